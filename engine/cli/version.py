"""`semzip --version`: this release, the llama-cpp-python it runs on, and the lossless profiles it reads and writes.

Read from metadata and the codec's own tables: no model, no llama.cpp, no torch, so it answers on any machine.
"""
from __future__ import annotations

from importlib import metadata

import engine


def llama_cpp_python_version() -> str:
    """The installed llama-cpp-python's version, from its metadata (importing it would load llama.cpp)."""
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return "not installed"


def version_text() -> str:
    """What `semzip --version` prints."""
    from engine.codecs.lossless.arithmetic import CODER_ID as LOGITS_CODER
    from engine.codecs.lossless.codec import CODERS, default_coder
    from engine.codecs.lossless.priming import PRIMING_ID
    from engine.codecs.lossless.profile import Profile
    from engine.codecs.lossless.regime import KERNEL_ENV
    from engine.codecs.profiles import PORTABLE_KERNELS, REFERENCES, reference

    def reads(p: Profile) -> bool:  # the codec decodes it here, or in a child set up for its regime (legacy.py)
        return p.regime in KERNEL_ENV and p.priming == PRIMING_ID and p.coder in CODERS

    registered = {number: Profile.parse(key) for number, key in REFERENCES.items()}
    lines = [f"semzip {engine.__version__}", f"llama-cpp-python {llama_cpp_python_version()}",
             f"lossless profiles read (sha16.regime.priming.coder.kernels): regimes {' '.join(KERNEL_ENV)}, priming "
             f"{PRIMING_ID}, coders {' '.join(CODERS)}; registered ones by the number JSON lines give them:"]
    lines += [f"  {number} {p.key}" for number, p in registered.items() if reads(p)]
    lines.append("lossless profiles written by default (on a CPU; a GPU writes its own kernels):")
    for sha in dict.fromkeys(p.model_sha for p in registered.values()):
        key = Profile(sha, PORTABLE_KERNELS, coder=default_coder(sha)).key
        lines.append(f"  {reference(key) or '-'} {key}")
    lines.append(f"  - {Profile('<sha16>', PORTABLE_KERNELS, coder=LOGITS_CODER).key} (a model with no shortlist)")
    return "\n".join(lines)
