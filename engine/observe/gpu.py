"""GPU discovery and sampling: NVML (nvidia-ml-py) on NVIDIA, pyrsmi on AMD, nothing (and no failure) elsewhere."""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GpuSample:
    vendor: str
    index: int
    name: str
    utilization_pct: float | None
    memory_used: int | None
    memory_total: int | None
    power_w: float | None
    temperature_c: float | None


class GpuProbe:
    """Opens whichever vendor library finds devices; sample() reads all devices, [] when there are none."""

    def __init__(self):
        self.vendor: str | None = None
        self.reason = ""
        self._nvml = None
        self._rocml = None
        self._open()

    def _open(self) -> None:
        reasons = []
        try:
            import pynvml

            pynvml.nvmlInit()
            if pynvml.nvmlDeviceGetCount() > 0:
                self._nvml, self.vendor = pynvml, "nvidia"
                return
            reasons.append("NVML: no devices")
        except Exception as exc:  # NVML raises its own error types, or the library is absent
            reasons.append(f"NVML: {exc}")
        try:
            from pyrsmi import rocml

            rocml.smi_initialize()
            if rocml.smi_get_device_count() > 0:
                self._rocml, self.vendor = rocml, "amd"
                return
            reasons.append("ROCm SMI: no devices")
        except Exception as exc:  # pyrsmi raises plain exceptions when librocm_smi/amdsmi is missing
            reasons.append(f"ROCm SMI: {exc}")
        self.reason = "; ".join(reasons)

    def sample(self) -> list[GpuSample]:
        if self._nvml is not None:
            return [self._sample_nvidia(i) for i in range(self._nvml.nvmlDeviceGetCount())]
        if self._rocml is not None:
            return [self._sample_amd(i) for i in range(self._rocml.smi_get_device_count())]
        return []

    def _sample_nvidia(self, i: int) -> GpuSample:
        nv = self._nvml
        h = nv.nvmlDeviceGetHandleByIndex(i)
        name = nv.nvmlDeviceGetName(h)
        mem = nv.nvmlDeviceGetMemoryInfo(h)
        return GpuSample(
            "nvidia", i, name.decode() if isinstance(name, bytes) else name,
            float(nv.nvmlDeviceGetUtilizationRates(h).gpu), int(mem.used), int(mem.total),
            _maybe(lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0),
            _maybe(lambda: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))),
        )

    def _sample_amd(self, i: int) -> GpuSample:
        r = self._rocml
        return GpuSample(
            "amd", i, str(_maybe(lambda: r.smi_get_device_name(i)) or f"AMD GPU {i}"),
            _maybe(lambda: float(r.smi_get_device_utilization(i))),
            _maybe(lambda: int(r.smi_get_device_memory_used(i))),
            _maybe(lambda: int(r.smi_get_device_memory_total(i))),
            _maybe(lambda: float(r.smi_get_device_average_power(i))),
            None,
        )


def _maybe(read):
    """One reading that a device or driver may not support: None instead of an exception."""
    try:
        return read()
    except Exception as exc:  # vendor libraries raise their own types for "not supported"
        log.debug("GPU reading unavailable: %s", exc)
        return None
