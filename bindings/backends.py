"""What this llama.cpp build can run on: ggml backends registered, devices found, GPU offload support."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from bindings import _lib
from bindings._lib import C, ensure_backend

_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "IGPU", 3: "ACCEL"}


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    description: str
    kind: str
    memory_free: int
    memory_total: int


@dataclass(frozen=True, slots=True)
class BackendReport:
    llama_cpp_python: str
    pinned: str
    backends: list[str]
    devices: list[Device] = field(default_factory=list)
    supports_gpu_offload: bool = False
    system_info: str = ""
    library: str = ""  # the native libraries' folder, sizes and times (_lib.library_identity)
    kernel_env: dict[str, str] = field(default_factory=dict)  # ggml's CPU matmul switches (_lib.kernel_env)
    kernel_env_set_before_load: bool = True  # they were as they are now before ggml could read them

    @property
    def gpus(self) -> list[Device]:
        return [d for d in self.devices if d.kind in ("GPU", "IGPU")]


def backend_report() -> BackendReport:
    """Query ggml's registry after llama.cpp's backend init (which loads dynamic backends)."""
    ensure_backend()
    backends = []
    for i in range(_lib.ggml_backend_reg_count()):
        reg = _lib.ggml_backend_reg_get(i)
        backends.append(_lib.ggml_backend_reg_name(reg).decode())
    devices = []
    for i in range(_lib.ggml_backend_dev_count()):
        dev = _lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        _lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            Device(
                name=_lib.ggml_backend_dev_name(dev).decode(),
                description=(_lib.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
                kind=_DEVICE_TYPES.get(_lib.ggml_backend_dev_type(dev), "UNKNOWN"),
                memory_free=free.value,
                memory_total=total.value,
            )
        )
    return BackendReport(
        llama_cpp_python=_lib.installed_version(),
        pinned=_lib.PINNED_LLAMA_CPP_PYTHON,
        backends=backends,
        devices=devices,
        supports_gpu_offload=bool(C.llama_supports_gpu_offload()),
        system_info=C.llama_print_system_info().decode(errors="replace").strip(),
        library=_lib.library_identity(),
        kernel_env=_lib.kernel_env(),
        kernel_env_set_before_load=_lib.KERNEL_ENV_SET_BEFORE_LOAD,
    )
