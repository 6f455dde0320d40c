"""Registered numerics profiles: the numbers by which JSON lines name them (docs/FORMAT.md lists them).

A profile (engine/codecs/lossless/profile.py) is 35 characters or more; a JSON line of a registered one writes its
number instead, as the digits after its kind (`"z1"`). Append only: a number never changes meaning, and a reader
that does not know a number refuses the record rather than guess.
"""
from __future__ import annotations

PORTABLE_KERNELS = "cpu-x86-64-v3"

REFERENCES = {
    1: f"a5fd3b62230aa5ec.r1.8625a2b7.c1.{PORTABLE_KERNELS}",  # gemma-3-270m Q4_K_M, the default lossless model
    2: f"1d9614638d18024d.r1.8625a2b7.c1.{PORTABLE_KERNELS}",  # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    # regime r2 (ggml's tiled matmul off): this release's records
    3: f"a5fd3b62230aa5ec.r2.8625a2b7.c1.{PORTABLE_KERNELS}",  # gemma-3-270m Q4_K_M, the default lossless model
    4: f"1d9614638d18024d.r2.8625a2b7.c1.{PORTABLE_KERNELS}",  # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    # coder c2 (probabilities from a decimal-built exp table, not numpy's exp): this release's records
    5: f"a5fd3b62230aa5ec.r2.8625a2b7.c2.{PORTABLE_KERNELS}",  # gemma-3-270m Q4_K_M, the default lossless model
    6: f"1d9614638d18024d.r2.8625a2b7.c2.{PORTABLE_KERNELS}",  # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    # coder s1 (our own projection onto a shortlist with an escape symbol): this release's records
    7: f"a5fd3b62230aa5ec.r2.8625a2b7.s1.{PORTABLE_KERNELS}",  # gemma-3-270m Q4_K_M, the default lossless model
    8: f"1d9614638d18024d.r2.8625a2b7.s1.{PORTABLE_KERNELS}",  # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
}
_NUMBERS = {key: n for n, key in REFERENCES.items()}


def reference(key: str) -> int | None:
    """The registered number of a profile, None for one that is not registered (written out in full)."""
    return _NUMBERS.get(key)


def registered(number: int) -> str:
    """ValueError for a number no release registered (a record from a newer semzip)."""
    try:
        return REFERENCES[number]
    except KeyError:
        raise ValueError(f"profile reference {number} is not known to this semzip (known: "
                         f"{', '.join(map(str, REFERENCES))}): the record comes from a newer release") from None
