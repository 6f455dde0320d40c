"""The numerics profile: what a decoder must share with the encoder to see the same probabilities, bit for bit.

    <first 16 hex of the model's sha256>.<regime>.<priming>.<coder>.<kernels>

kernels is the set the code was made on: `cpu-x86-64-v3`, the portable CPU profile (AVX2, FMA, F16C: every x86-64
server of the last ten years), which every lossless record coded on a CPU uses; or a GPU's (`cuda-nvidia-h200`),
which decodes on the same backend and GPU model only. A record whose profile this engine cannot reproduce is refused
before any decoding, with what it needs. Format 2 records name their kernels `CPU` (a build of the machine's own
kernels): they are tried on the portable kernels, and their checksum decides.

JSON lines name a registered profile by its number (engine/codecs/profiles.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.codecs.lossless.arithmetic import CODER_ID
from engine.codecs.lossless.priming import PRIMING_ID
from engine.codecs.lossless.regime import REGIME_ID
from engine.codecs.profiles import PORTABLE_KERNELS

LEGACY_CPU = "CPU"  # format 2's name for "a CPU build", whatever its kernels
_SHAPE = re.compile(r"^[0-9a-f]{16}\.[a-z0-9]+\.[a-z0-9]+\.[a-z0-9]+\.[A-Za-z0-9_+\-]+$")


@dataclass(frozen=True, slots=True)
class Profile:
    model_sha: str
    kernels: str
    regime: str = REGIME_ID
    priming: str = PRIMING_ID
    coder: str = CODER_ID

    @property
    def key(self) -> str:
        return f"{self.model_sha[:16]}.{self.regime}.{self.priming}.{self.coder}.{self.kernels}"

    @classmethod
    def parse(cls, key: str) -> "Profile":
        """ValueError for a string that is not a profile."""
        if not isinstance(key, str) or not _SHAPE.match(key):
            raise ValueError(f"{key!r} is not a numerics profile (sha16.regime.priming.coder.kernels)")
        sha, regime, priming, coder, kernels = key.split(".")
        return cls(sha, kernels, regime, priming, coder)


def refusal(stored: str | None, engine: Profile) -> str | None:
    """Why this engine cannot reproduce a record's profile, naming what it needs and how to get it; None if it can."""
    if stored is None:
        return "it names no numerics profile"
    try:
        rec = Profile.parse(stored)
    except ValueError as exc:
        return str(exc)
    if rec.model_sha != engine.model_sha[:16]:
        return (f"it was coded with the model whose sha256 starts {rec.model_sha} (profile {stored}); this engine has "
                f"{engine.model_sha[:16]}: decode it with that model (models.lock finds it by its sha256, or pass "
                f"--model PATH)")
    parts = ((rec.regime, engine.regime, "regime"), (rec.priming, engine.priming, "priming text"),
             (rec.coder, engine.coder, "coder"))
    for theirs, ours, what in parts:
        if theirs != ours:
            return (f"it was coded with {what} {theirs} (profile {stored}); this semzip has {ours}: decode it with a "
                    f"semzip release that has {theirs}")
    if rec.kernels == engine.kernels or (rec.kernels == LEGACY_CPU and engine.kernels == PORTABLE_KERNELS):
        return None
    if rec.kernels == PORTABLE_KERNELS:
        how = ("semzip's own llama.cpp build (unset LLAMA_CPP_LIB_PATH and run `make install`; it needs an x86-64 "
               "CPU with AVX2, FMA and F16C) with no GPU layers")
    elif rec.kernels.startswith("cpu-") or rec.kernels == LEGACY_CPU:
        how = f"a llama.cpp built with exactly the CPU kernels {rec.kernels} (LLAMA_CPP_LIB_PATH)"
    else:
        how = f"a GPU of that backend and model ({rec.kernels}) with every layer offloaded (--gpu-layers -1)"
    return f"it was coded on kernels {rec.kernels} (profile {stored}); this engine runs {engine.kernels}: decode it with {how}"
