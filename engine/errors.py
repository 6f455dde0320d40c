"""Typed errors for semzip users; each message names the input and what is wrong."""


class SemzipError(Exception):
    """Base class; the CLI prints the message and exits with exit_code."""

    exit_code = 1


class ModelFileError(SemzipError):
    """A model file is missing, not GGUF, truncated or does not match its pinned sha256."""

    exit_code = 2


class LockfileError(SemzipError):
    """models.lock is missing, malformed, or has no entry by that name."""

    exit_code = 2


class UsageError(SemzipError):
    """A command-line setting out of range (slots, token budget, batch, cache size...)."""

    exit_code = 2


class InputError(SemzipError):
    """A line or file of input cannot be used."""

    exit_code = 1


class UnsupportedCpu(SemzipError):
    """This CPU lacks what the llama.cpp build or the lossless profile needs (x86-64-v3: AVX2, FMA, F16C)."""

    exit_code = 2
