"""The CPU this process runs on, read before llama.cpp is loaded: its build needs x86-64-v3 (AVX2, FMA, F16C, BMI2).

semzip's llama.cpp is compiled for exactly that kernel set (the Makefile's PORTABLE_CMAKE_ARGS), never for the
build machine, so it runs on every x86-64 server of the last ten years and codes the same bits on each. On a CPU without
it, loading the library could die with SIGILL; this check turns that into a clear error first.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache

from engine.errors import UnsupportedCpu

# What the default build executes, as /proc/cpuinfo spells the flags (x86-64-v3 as ggml compiles it).
PORTABLE_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")
PORTABLE_PROFILE = "cpu-x86-64-v3"
AMX_FLAGS = ("amx_tile", "amx_int8")
FLAGS_ENV = "SEMZIP_CPU_FLAGS"  # tests stand in for another CPU with it (space-separated flags)


@dataclass(frozen=True, slots=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def missing_portable(self) -> list[str]:
        return [f for f in PORTABLE_FLAGS if f not in self.flags]

    @property
    def has_amx(self) -> bool:
        return all(f in self.flags for f in AMX_FLAGS)


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """Model name and feature flags: /proc/cpuinfo on Linux, or SEMZIP_CPU_FLAGS when set."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:  # the first processor's lines are enough: every core of a server is alike
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = os.environ.get(FLAGS_ENV, fields.get("flags", ""))
    return CpuInfo(fields.get("model name") or platform.processor() or platform.machine(), frozenset(flags.split()))


def require_portable_build_cpu() -> None:
    """Raise UnsupportedCpu where the default (x86-64-v3) llama.cpp build cannot run; a build of one's own
    (LLAMA_CPP_LIB_PATH) or a CPU that is not x86-64 is left to that build."""
    if os.environ.get("LLAMA_CPP_LIB_PATH") or platform.machine() not in ("x86_64", "AMD64"):
        return
    info = cpu_info()
    if info.missing_portable:
        raise UnsupportedCpu(
            f"this CPU ({info.model}) cannot run the portable lossless profile {PORTABLE_PROFILE}, nor semzip's "
            f"llama.cpp build, which needs x86-64-v3: it lacks {', '.join(info.missing_portable)}. Lossless records "
            f"decode only on an x86-64 CPU with AVX2, FMA and F16C (or a GPU of their profile). Summary mode can run "
            f"on a llama.cpp built for this CPU: LLAMA_CPP_LIB_PATH=/path/to/its/lib (CMakeLists-notes.md)")


# ggml's CPU features (llama_print_system_info) that choose kernels; OPENMP and REPACK change no bits here.
_ISA_FEATURES = ("SSE3", "SSSE3", "AVX", "AVX_VNNI", "AVX2", "F16C", "FMA", "BMI2", "AVX512", "AVX512_VBMI",
                 "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "AMX_BF16", "NEON", "ARM_FMA", "SVE", "RISCV_V", "VSX")
_V3 = frozenset({"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "LLAMAFILE"})


def build_features(system_info: str) -> frozenset[str]:
    """The CPU backend's compiled-in features from llama_print_system_info ("CPU : AVX2 = 1 | ...")."""
    cpu = next((part for part in system_info.split("CPU :")[1:2]), "")
    found = set()
    for entry in cpu.split("|"):
        name, _, value = entry.partition("=")
        if value.strip() == "1":
            found.add(name.strip())
    return frozenset(found)


def kernel_set(system_info: str) -> str:
    """The numerics profile's name for this build's CPU kernels: cpu-x86-64-v3 for the portable build, else the
    features spelled out (records coded there decode only on such a build)."""
    features = build_features(system_info)
    chosen = {f for f in features if f in _ISA_FEATURES or f == "LLAMAFILE"}
    if chosen == _V3:
        return PORTABLE_PROFILE
    return "cpu-" + "+".join(sorted(f.lower() for f in chosen)) if chosen else "cpu-generic"
