"""`semzip doctor`: what this installation can run, and what is missing with the fix."""
from __future__ import annotations

import os

from engine import models
from engine.core import cpu
from engine.errors import SemzipError, UnsupportedCpu


def _cpu_lines(out) -> None:
    info = cpu.cpu_info()
    has = [f for f in cpu.PORTABLE_FLAGS + cpu.AMX_FLAGS + ("avx512f", "avx512_vnni", "avx_vnni") if f in info.flags]
    out(f"CPU: {info.model}; {' '.join(has) or 'none of avx avx2 fma f16c bmi2'}")
    amx = "present, not used: semzip's build has no AMX kernels (their tile permission is requested on the main " \
          "thread only: SIGILL in worker threads, llama.cpp PR #26954)" if info.has_amx else "absent"
    out(f"AMX: {amx}")


def run_doctor(out=print) -> int:
    """Print the report; return 0 when the default model is ready, 2 otherwise."""
    status = 0
    _cpu_lines(out)
    try:
        from engine.core.runner import backend_report  # loads llama.cpp: after the CPU check
    except UnsupportedCpu as exc:
        out(f"NOT READY: {exc}")
        return exc.exit_code
    from engine.codecs.profiles import PORTABLE_KERNELS, REFERENCES
    from engine.observe.gpu import GpuProbe

    rep = backend_report()
    pin = rep.pinned
    out(f"llama-cpp-python: {rep.llama_cpp_python} (pinned {pin}){'' if rep.llama_cpp_python == pin else '  MISMATCH: reinstall with make install'}")
    out(f"ggml backends compiled in: {', '.join(rep.backends) or 'none'}")
    out(f"GPU offload supported by this build: {'yes' if rep.supports_gpu_offload else 'no'}")
    for d in rep.devices:
        mem = f", {d.memory_total / 2**30:.1f} GiB" if d.memory_total else ""
        out(f"  device {d.name} [{d.kind}] {d.description}{mem}")
    out(f"backend used: {rep.gpus[0].name if rep.gpus and rep.supports_gpu_offload else 'CPU'}")
    kernels = cpu.kernel_set(rep.system_info)
    portable = kernels == PORTABLE_KERNELS
    out(f"CPU kernels in use: {kernels}{' (x86-64-v3: AVX AVX2 FMA F16C BMI2), every mode' if portable else ''}")
    out(f"lossless profile: {PORTABLE_KERNELS if portable else 'refused: this build is not ' + PORTABLE_KERNELS}"
        f"{'' if portable else ' (unset LLAMA_CPP_LIB_PATH, or build with PORTABLE_CMAKE_ARGS of the Makefile)'}")
    from engine.codecs.lossless.regime import KERNEL_ENV, REGIME_ID, process_regime

    regime = process_regime(rep.kernel_env)
    switches = " ".join(f"{k}={v}" for k, v in rep.kernel_env.items())
    out(f"lossless regime: {regime or 'none'} ({switches}); this release codes {REGIME_ID} and reads "
        f"{', '.join(sorted(KERNEL_ENV))} (another regime's records decode in a child process set up for it)")
    out("profile references in JSON lines (z1 = lossless under 1):")
    for number, key in REFERENCES.items():
        out(f"  {number} = {key}")
    probe = GpuProbe()
    if probe.vendor:
        for s in probe.sample():
            out(f"GPU ({probe.vendor}): {s.name}, memory {s.memory_used}/{s.memory_total} bytes")
    else:
        out(f"GPU seen by NVML/ROCm SMI: none ({probe.reason})")
    out(f"threads: {os.cpu_count()} logical CPUs; llama.cpp uses physical cores by default")
    out(f"system info: {rep.system_info}")
    lock = models.load_lock()
    out(f"models ({lock.path}):")
    defaults = {mode: lock.default_for(mode) for mode in models.MODES}
    for entry in lock.entries.values():
        roles = [mode for mode, name in defaults.items() if name == entry.name]
        try:
            path = models.verify(entry)
            state = f"present, verified ({path})"
        except SemzipError as exc:
            state = f"NOT READY: {exc}"
            status = 2 if roles else status
        out(f"  {entry.name}{' (default: ' + ', '.join(roles) + ')' if roles else ''}: {state}")
    if status:
        out("fix: semzip models fetch   (the default model of every mode)")
    return status
