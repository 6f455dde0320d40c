"""Bytes as JSON-safe ASCII, 93 symbols a character: every printable character but '"' and '\\'.

A JSON string can carry these unescaped, so a coded record's payload costs 1.227 characters a byte in a JSON line
(base85: 1.25). Each block of 256 bytes is read as one big number behind a leading 1 bit (so leading zero bytes
survive) and written in base 93, most significant digit first: a whole block always takes 314 characters, the last
(shorter, possibly empty) block 1 to 313, so the text's length tells where blocks end. Blocks keep the big-number
work linear in the size.
"""
from __future__ import annotations

ALPHABET = "".join(ch for ch in map(chr, range(0x20, 0x7F)) if ch not in '"\\')
_BASE = len(ALPHABET)  # 93
_DIGITS = {ch: i for i, ch in enumerate(ALPHABET)}
_CHUNK = 8
_CHUNK_BASE = _BASE**_CHUNK
BLOCK = 256
BLOCK_CHARS = 314  # digits of a number in [2^2048, 2^2049): always 314 in base 93


def encode(data: bytes) -> str:
    full = len(data) - len(data) % BLOCK
    return "".join(_encode_block(data[a : a + BLOCK]) for a in range(0, full, BLOCK)) + _encode_block(data[full:])


def decode(text: str) -> bytes:
    """The bytes encode() wrote; ValueError for a character outside the alphabet or a text encode() cannot write."""
    full = len(text) - len(text) % BLOCK_CHARS
    if full == len(text):
        raise ValueError(f"not a base-93 text (its length {len(text)} is a whole number of blocks)")
    return b"".join(_decode_block(text[a : a + BLOCK_CHARS]) for a in range(0, full, BLOCK_CHARS)) + \
        _decode_block(text[full:])


def _encode_block(data: bytes) -> str:
    n = int.from_bytes(b"\x01" + data, "big")
    chunks = []
    while n:
        n, low = divmod(n, _CHUNK_BASE)
        chunks.append(low)
    digits = []
    for low in chunks:
        for _ in range(_CHUNK):
            low, d = divmod(low, _BASE)
            digits.append(ALPHABET[d])
    return "".join(reversed(digits)).lstrip(ALPHABET[0])


def _decode_block(text: str) -> bytes:
    try:
        values = [_DIGITS[ch] for ch in text]
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a base-93 character") from None
    if not values or values[0] == 0:
        raise ValueError("not a base-93 text (empty, or a leading zero digit)")
    head = len(values) % _CHUNK or _CHUNK
    n = 0
    for d in values[:head]:
        n = n * _BASE + d
    for a in range(head, len(values), _CHUNK):
        low = 0
        for d in values[a : a + _CHUNK]:
            low = low * _BASE + d
        n = n * _CHUNK_BASE + low
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if raw[0] != 1:
        raise ValueError("not a base-93 text (no leading marker)")
    return raw[1:]
