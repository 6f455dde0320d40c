"""Why a lossless record did not decode: raised or returned by the codec and by the child that decodes old regimes."""
from __future__ import annotations


class DecodeError(ValueError):
    """A record that cannot be decoded to its checksum: corrupt, truncated, or coded under other numerics."""


class ProfileRefused(DecodeError):
    """A record whose numerics profile this engine cannot reproduce (another model, kernel set or release)."""
