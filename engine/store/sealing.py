"""Sealing a store's content columns: AES-256-GCM under the data key of the value's namespace.

Every value a memory's content can be recovered from (its records, kept texts, fields, embeddings, a pack's
index, streams, vectors and kept texts, a dump's lines) is sealed as

    version (1 byte) | data key id (4) | nonce (12) | ciphertext | tag (16)

with associated data binding it to the store, what it is, its namespace and its key (a pack's parts: the pack's
index): a sealed value moved to another row, column or store fails to open. Plain stores use Plain, which
passes values through, so the query modules hold one code path for both.
"""
from __future__ import annotations

import base64
import secrets
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.store import values
from engine.store.key_file import DataKey, KeyFile
from engine.store.sealed_names import NameNotOpen, SealedNames

SEAL_VERSION = 1
NONCE_BYTES = 12
HEADER_BYTES = 1 + 4
OVERHEAD = HEADER_BYTES + NONCE_BYTES + 16
# Small values (fields, embeddings, hot turns) are opened again on every search, listing and get: kept opened in
# this process by what they are, the namespace and key they were opened for and their tag, so a search over an
# encrypted store costs what a plain one does (bench/bench_sealing.py). A value moved to another row misses (its
# namespace or key differ) and is opened against that row's associated data, which fails.
CACHED_SMALL = 1 << 18  # entries; the cache starts again empty past that
SMALL_BYTES = 2048

# What a sealed value is: part of its associated data.
RECORD, FIELDS, VECS = b"record", b"fields", b"vecs"
PACK_INDEX, PACK_BODY, PACK_VECS, PACK_KEPT = b"pack-idx", b"pack-body", b"pack-vecs", b"pack-kept"
DUMP_LINE = b"dump"


class SealError(ValueError):
    """A sealed value that does not open: damaged, moved, or under a data key this key file lacks."""


class Plain:
    """A plain store's columns: values as they are."""

    is_sealed = False

    def seal(self, ns: str, what: bytes, ident: str, data: bytes) -> bytes:
        return data

    def open(self, ns: str, what: bytes, ident: str, data: bytes) -> bytes:
        return data

    def seal_text(self, ns: str, what: bytes, ident: str, text: str | None) -> str | None:
        return text

    def open_text(self, ns: str, what: bytes, ident: str, text: str | None) -> str | None:
        return text

    # Names as stored: a namespace (labels joined, as values.join makes them) and a key in a namespace. Only a store
    # created with seal_names stores them otherwise (sealed_names.py).
    def ns_in(self, ns: str) -> str:
        return ns

    def ns_out(self, stored: str) -> str:
        return stored

    def key_in(self, ns: str, key: str, create: bool = False) -> str:
        return key

    def key_out(self, ns: str, stored: str) -> str:
        return stored

    def names_out(self, rows: list[tuple]) -> list[tuple]:
        """Rows whose columns 1 and 2 are a namespace and a key as stored, with them in plain (a search maps every
        row of its namespaces: one loop here, not two calls a row)."""
        return rows


class Sealer(Plain):
    """Seals and opens a store's values with the data keys of its namespaces (key depth: how many leading labels
    of a namespace name its data key)."""

    is_sealed = True

    def __init__(self, keys: KeyFile, store_id: str, depth: int, where: str, names_key: bytes | None = None):
        self.keys, self.store_id, self.depth, self.where = keys, store_id, depth, where
        self._store = store_id.encode("ascii")
        self._writing: dict[str, DataKey] = {}
        self._reading: dict[tuple[str, bytes], DataKey] = {}
        self._readers: dict[tuple[str, bytes], AESGCM] = {}  # (namespace, sealed header) -> its cipher
        self._ciphers: dict[bytes, AESGCM] = {}
        self._opened: dict[tuple, bytes | str] = {}  # dict operations are atomic under the GIL: no lock
        self._lock = threading.Lock()
        self._file_seen = self.keys.state()
        self.names = SealedNames(names_key, self._store, self._current_key) if names_key else None

    def ns_in(self, ns: str) -> str:
        return ns if self.names is None else self.names.ns_in(ns)

    def ns_out(self, stored: str) -> str:
        if self.names is None:
            return stored
        try:
            return self.names.ns_out(stored)
        except NameNotOpen as exc:
            raise SealError(str(exc)) from None

    def key_in(self, ns: str, key: str, create: bool = False) -> str:
        return key if self.names is None else self.names.key_in(ns, key, create)

    def key_out(self, ns: str, stored: str) -> str:
        if self.names is None:
            return stored
        try:
            return self.names.key_out(ns, stored)
        except NameNotOpen as exc:
            raise SealError(str(exc)) from None

    def names_out(self, rows: list[tuple]) -> list[tuple]:
        if self.names is None:
            return rows
        namespaces: dict[str, str] = {}
        known = self.names.known_keys
        out = []
        for row in rows:
            stored_ns, stored_key = row[1], row[2]
            ns = namespaces.get(stored_ns)
            if ns is None:
                ns = namespaces[stored_ns] = self.ns_out(stored_ns)
            key = known.get((ns, stored_key))
            if key is None:
                key = self.key_out(ns, stored_key)
            out.append((row[0], ns, key, *row[3:]))
        return out

    def prefix_of(self, ns: str) -> str:
        """The namespace prefix (as stored) whose data key seals ns."""
        return values.join(values.split(ns)[: self.depth])

    def seal(self, ns: str, what: bytes, ident: str, data: bytes) -> bytes:
        key = self._write_key(ns)
        header = bytes([SEAL_VERSION]) + key.id
        nonce = secrets.token_bytes(NONCE_BYTES)
        return header + nonce + self._cipher(key).encrypt(nonce, data, self._ad(header, what, ns, ident))

    def open(self, ns: str, what: bytes, ident: str, data: bytes) -> bytes:
        # the path every read of an encrypted store takes: a get's whole budget is about 50 us (bench_sealing.py)
        small = len(data) <= SMALL_BYTES
        if small:
            hit = self._opened.get((what, ns, ident, data[-16:]))
            if hit is not None:
                return hit
        if len(data) < OVERHEAD or data[0] != SEAL_VERSION:
            raise SealError(f"not a sealed value of version {SEAL_VERSION} (damaged, or written plain)")
        header = data[:HEADER_BYTES]
        cipher = self._readers.get((ns, header))
        if cipher is None:
            cipher = self._readers[(ns, header)] = self._cipher(self._read_key(ns, data[1:HEADER_BYTES]))
        try:
            plain = cipher.decrypt(data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], data[HEADER_BYTES + NONCE_BYTES :],
                                   b"\0".join((b"semzip", header, self._store, what, ns.encode(), ident.encode())))
        except InvalidTag:
            raise SealError("its sealed bytes do not open under its namespace's key: damaged, or moved from "
                            "elsewhere") from None
        if small:
            if len(self._opened) >= CACHED_SMALL:
                self._opened.clear()
            self._opened[(what, ns, ident, data[-16:])] = plain
        return plain

    def seal_text(self, ns: str, what: bytes, ident: str, text: str | None) -> str | None:
        if text is None:
            return None
        return base64.b64encode(self.seal(ns, what, ident, text.encode("utf-8"))).decode("ascii")

    def open_text(self, ns: str, what: bytes, ident: str, text: str | None) -> str | None:
        if text is None:
            return None
        hit = self._opened.get((what, ns, ident, text))
        if hit is not None:
            return hit
        try:
            sealed = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise SealError("not a sealed value (damaged, or written plain)") from None
        opened = self.open(ns, what, ident, sealed).decode("utf-8")
        if len(text) <= SMALL_BYTES:
            self._opened[(what, ns, ident, text)] = opened
        return opened

    def forget(self, prefixes: list[str]) -> None:
        """Drop this process's copies of these prefixes' data keys and what it opened (after a shred)."""
        with self._lock:
            for p in prefixes:
                self._writing.pop(p, None)
            self._reading = {k: v for k, v in self._reading.items() if k[0] not in prefixes}
            self._readers.clear()
            self._ciphers.clear()
            if self.names is not None:
                self.names.forget()
            self._opened.clear()

    def _ad(self, header: bytes, what: bytes, ns: str, ident: str) -> bytes:
        return b"\0".join((b"semzip", header, self._store, what, ns.encode("utf-8"), ident.encode("utf-8")))

    def _write_key(self, ns: str) -> DataKey:
        return self._current_key(ns, create=True)

    def _current_key(self, ns: str, create: bool) -> DataKey | None:
        """The data key that seals ns now (create: made if it has none)."""
        prefix = self.prefix_of(ns)
        state = self.keys.state()
        with self._lock:
            if state != self._file_seen:  # another process changed the file: a key may have been shredded
                self._writing.clear()
                self._file_seen = state
            key = self._writing.get(prefix)
        if key is None:
            key = self.keys.data_key(self.store_id, prefix)
            if key is None and create:
                key = self.keys.add_data_key(self.store_id, prefix)
            if key is not None:
                with self._lock:
                    self._writing[prefix] = key
                    self._file_seen = self.keys.state()
        return key

    def _read_key(self, ns: str, key_id: bytes) -> DataKey:
        prefix = self.prefix_of(ns)
        key = self._reading.get((prefix, key_id))
        if key is None:
            key = self.keys.data_key(self.store_id, prefix, key_id)
        if key is not None:
            self._reading[(prefix, key_id)] = key
            return key
        gone = self.keys.shredded(self.store_id, key_id)
        if gone is not None:
            raise SealError(f"it was sealed under the data key of namespace {gone['namespace']!r}, shredded")
        raise SealError(f"it was sealed under a data key ({key_id.hex()}) the key file {self.keys.path} does not "
                        f"hold: written with another key file?")

    def _cipher(self, key: DataKey) -> AESGCM:
        c = self._ciphers.get(key.id)
        if c is None:
            c = self._ciphers[key.id] = AESGCM(key.key)
        return c
