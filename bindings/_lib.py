"""The loaded native libraries: llama.cpp through llama-cpp-python's ctypes module, and ggml's backend registry.

llama-cpp-python loads libllama (honouring LLAMA_CPP_LIB_PATH); ggml's registry functions are
not wrapped there, so the few we need are declared here, typed exactly as in ggml-backend.h.
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from pathlib import Path

# ggml's CPU matmul switches, read once per process at its first matmul. Unless the host set them, K-quant weights
# run ggml's vec_dot kernels at every row count (its tiled kernel, off here, takes over at 8 rows unless forced, and
# forced it is twice as slow for the few rows of a decode step): each row then gets the same bits however many rows
# share its ubatch, which lossless mode's canonical regime needs (engine/codecs/lossless/regime.py). Repacked weights
# (summary mode) never take the tiled path, so this changes nothing there.
KERNEL_ENV = ("GGML_CPU_TILED_MM", "GGML_CPU_TILED_MM_FORCE")
# Whether ggml can only have read them as they are now: llama.cpp was not loaded before, or the host had set them.
KERNEL_ENV_SET_BEFORE_LOAD = "llama_cpp" not in sys.modules or KERNEL_ENV[0] in os.environ
os.environ.setdefault(KERNEL_ENV[0], "0")


def kernel_env() -> dict[str, str]:
    """The matmul switches as ggml reads them (unset ones as ggml's defaults: tiled on, not forced)."""
    return {name: os.environ.get(name, default) for name, default in zip(KERNEL_ENV, ("1", "0"))}


import llama_cpp  # noqa: E402
from llama_cpp import llama_cpp as C  # noqa: E402
from llama_cpp._ctypes_extensions import load_shared_library  # noqa: E402

# libllama comes from LLAMA_CPP_LIB_PATH when it is set (a CUDA or Vulkan build, say); ggml's registry
# must be asked in the libggml that library uses, not in the package's own CPU build beside it.
_LIB_DIR = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")
libggml = load_shared_library("ggml", _LIB_DIR)

PINNED_LLAMA_CPP_PYTHON = "0.3.36"


def library_identity() -> str:
    """Which native libraries this process runs: their folder, and each library's size and modification time."""
    parts = [str(_LIB_DIR)]
    for lib in sorted(_LIB_DIR.glob("lib*.so*")):
        if lib.is_file() and not lib.is_symlink():
            st = lib.stat()
            parts.append(f"{lib.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)

_init_lock = threading.Lock()
_initialised = False


def _declare(name: str, argtypes: list, restype) -> object:
    fn = getattr(libggml, name)
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


ggml_backend_reg_count = _declare("ggml_backend_reg_count", [], ctypes.c_size_t)
ggml_backend_reg_get = _declare("ggml_backend_reg_get", [ctypes.c_size_t], ctypes.c_void_p)
ggml_backend_reg_name = _declare("ggml_backend_reg_name", [ctypes.c_void_p], ctypes.c_char_p)
ggml_backend_dev_count = _declare("ggml_backend_dev_count", [], ctypes.c_size_t)
ggml_backend_dev_get = _declare("ggml_backend_dev_get", [ctypes.c_size_t], ctypes.c_void_p)
ggml_backend_dev_name = _declare("ggml_backend_dev_name", [ctypes.c_void_p], ctypes.c_char_p)
ggml_backend_dev_description = _declare("ggml_backend_dev_description", [ctypes.c_void_p], ctypes.c_char_p)
# enum ggml_backend_dev_type: 0 CPU, 1 GPU, 2 IGPU, 3 ACCEL
ggml_backend_dev_type = _declare("ggml_backend_dev_type", [ctypes.c_void_p], ctypes.c_int)
# Graph nodes, for the eval callback that captures the final hidden state (bindings/context.py).
ggml_get_name = _declare("ggml_get_name", [ctypes.c_void_p], ctypes.c_char_p)
ggml_nbytes = _declare("ggml_nbytes", [ctypes.c_void_p], ctypes.c_size_t)
ggml_backend_tensor_get = _declare(
    "ggml_backend_tensor_get", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t], None)
ggml_backend_dev_memory = _declare(
    "ggml_backend_dev_memory",
    [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)],
    None,
)


log = logging.getLogger("semzip.llama")
log.addHandler(logging.NullHandler())  # a library logs; the host decides what is shown
# ggml_log_level: 0 none, 1 info, 2 warn, 3 error, 4 debug, 5 continuation of the previous line
_LEVELS = {0: logging.CRITICAL, 1: logging.DEBUG, 2: logging.INFO, 3: logging.ERROR, 4: logging.DEBUG}


@C.llama_log_callback
def _log_to_python(level: int, text: bytes, _user_data) -> None:
    # llama.cpp narrates every load step (and warns about quirks of well-known GGUFs) on stderr;
    # route it into logging so hosts decide what they see. Its warnings count as info here.
    if level == 5:
        return
    msg = text.decode("utf-8", "replace").rstrip()
    if msg:
        log.log(_LEVELS.get(level, logging.DEBUG), "%s", msg)


def ensure_backend() -> None:
    """Initialise llama.cpp's backend once per process (idempotent, thread-safe) and route its log."""
    global _initialised
    with _init_lock:
        if not _initialised:
            C.llama_log_set(_log_to_python, ctypes.c_void_p(0))
            C.llama_backend_init()
            _initialised = True


def installed_version() -> str:
    """Version of the llama-cpp-python package that provides the ctypes structs."""
    return llama_cpp.__version__
