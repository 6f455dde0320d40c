"""Thin layer over llama.cpp's C API (through llama-cpp-python's ctypes module): one class per native handle."""
from bindings._lib import PINNED_LLAMA_CPP_PYTHON, installed_version, kernel_env
from bindings.backends import BackendReport, Device, backend_report
from bindings.batch import Batch
from bindings.context import Context, ContextParams
from bindings.errors import ContextError, DecodeAborted, GrammarError, KVCacheFull, LlamaError, ModelLoadError
from bindings.model import Model, ModelParams
from bindings.sampler import Sampler, SamplingParams

__all__ = [
    "PINNED_LLAMA_CPP_PYTHON", "installed_version", "kernel_env", "BackendReport", "Device", "backend_report", "Batch",
    "Context", "ContextParams", "ContextError", "DecodeAborted", "GrammarError", "KVCacheFull", "LlamaError",
    "ModelLoadError", "Model", "ModelParams", "Sampler", "SamplingParams",
]
