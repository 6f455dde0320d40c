"""Sealed names (an encrypted store created with seal_names): namespace labels and keys stored as tokens.

A token is AES-SIV of the name, base64url: deterministic, so equal names give equal tokens and a get is still one
index lookup, and a namespace prefix is still a range (each label is its own token, joined as labels are). Labels
are sealed under the store's names key (kept in the key file beside its data keys); keys under a key derived from
their namespace's data key, so a shred makes the names of its memories unreadable too (the top labels, which name
the data keys, stay readable to the key file). Tokens are remembered both ways in this process: a search maps
every row's names back, and a name seen once costs a dictionary lookup after.
"""
from __future__ import annotations

import base64
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.store import values

CACHED = 1 << 18  # names remembered each way; the maps start again empty past that
NO_KEY = "\x00"  # the token of a key whose namespace has no data key: matches no stored key (keys hold no control)


class NameNotOpen(ValueError):
    """A stored name that does not open (its data key shredded, or the value damaged)."""


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class SealedNames:
    """data_key_of(ns, create) -> the DataKey that seals namespace ns (as stored, in plain), or None."""

    def __init__(self, names_key: bytes, store: bytes, data_key_of):
        self._labels = AESSIV(names_key)
        self._store, self._data_key_of = store, data_key_of
        self._siv: dict[bytes, AESSIV] = {}  # data key id -> its names cipher
        self._in: dict[tuple, str] = {}
        self._out: dict[tuple, str] = {}
        self.known_keys = self._out  # (namespace, stored key) -> key: read without a call where rows are many
        self._lock = threading.Lock()

    def ns_in(self, ns: str) -> str:
        found = self._in.get(("ns", ns))
        if found is None:
            found = values.SEP.join(_b64(self._labels.encrypt(label.encode("utf-8"), [b"label", self._store]))
                                    for label in values.split(ns))
            self._remember(("ns", ns), found, ("ns", found), ns)
        return found

    def ns_out(self, stored: str) -> str:
        found = self._out.get(("ns", stored))
        if found is None:
            try:
                found = values.join(tuple(self._labels.decrypt(_unb64(t), [b"label", self._store]).decode("utf-8")
                                          for t in values.split(stored)))
            except (InvalidTag, ValueError) as exc:
                raise NameNotOpen(f"the sealed namespace {stored!r} does not open ({exc or 'damaged'})") from None
            self._remember(("ns", found), stored, ("ns", stored), found)
        return found

    def key_in(self, ns: str, key: str, create: bool = False) -> str:
        """key's token in namespace ns; create: for a write (a data key is made if its namespace has none, and the
        token is made again, in case another process shredded the namespace since it was remembered)."""
        found = None if create else self._in.get((ns, key))
        if found is None:
            siv = self._cipher(ns, create)
            if siv is None:
                return NO_KEY
            found = _b64(siv.encrypt(key.encode("utf-8"), [b"key", self._store, ns.encode("utf-8")]))
            self._remember((ns, key), found, (ns, found), key)
        return found

    def key_out(self, ns: str, stored: str) -> str:
        found = self._out.get((ns, stored))
        if found is None:
            siv = self._cipher(ns, False)
            try:
                if siv is None:
                    raise ValueError("its namespace's data key is gone: shredded")
                found = siv.decrypt(_unb64(stored), [b"key", self._store, ns.encode("utf-8")]).decode("utf-8")
            except (InvalidTag, ValueError) as exc:
                raise NameNotOpen(f"a sealed key in namespace {ns!r} does not open ({exc or 'damaged'})") from None
            self._remember((ns, found), stored, (ns, stored), found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._siv.clear()
            self._in.clear()
            self._out.clear()

    def _cipher(self, ns: str, create: bool) -> AESSIV | None:
        key = self._data_key_of(ns, create)
        if key is None:
            return None
        siv = self._siv.get(key.id)
        if siv is None:
            sub = HKDF(hashes.SHA256(), 64, salt=None, info=b"semzip names").derive(key.key)
            siv = self._siv[key.id] = AESSIV(sub)  # AES-256-SIV
        return siv

    def _remember(self, in_key: tuple, token: str, out_key: tuple, name: str) -> None:
        with self._lock:
            if len(self._in) >= CACHED:
                self._in.clear()
                self._out.clear()  # in place: known_keys is the same dict
            self._in[in_key] = token
            self._out[out_key] = name
