"""Whether a store is sealed, and with which key: checked when it opens, before anything is written.

A store created with a key file is sealed (store format 4) and named by a random store id in its meta table; the
key file holds that store's data keys. A sealed store opened without its key file, with another one, or a plain
store opened with one, is refused with the fix (exit 2). Only a new store takes the key it is opened with.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from engine.store import values
from engine.store.errors import InvalidMemoryError, StoreKeyError
from engine.store.key_file import CIPHER, KeyFile
from engine.store.sealing import Plain, Sealer
from engine.store.sql import PLAIN_FORMAT, SEALED_FORMAT

DEFAULT_KEY_DEPTH = 1  # a data key per top-level namespace label: per user, in ("user_123", "memories")


def open_key(key) -> KeyFile | None:
    """A KeyFile from a path or a KeyFile (None: a plain store); the file checked before the store is touched."""
    if key is None or isinstance(key, KeyFile):
        return key
    if isinstance(key, (str, Path)):
        return KeyFile(key)
    raise InvalidMemoryError(f"key: the path of a key file (semzip store keygen) or a KeyFile, got "
                             f"{type(key).__name__}")


def first_meta(keys: KeyFile | None, depth: int, seal_names: bool = False) -> dict[str, str]:
    """The meta entries a new store starts with: sealed ones when it is created with a key file (seal_names: its
    namespace labels and keys sealed too)."""
    if keys is None:
        if seal_names:
            raise StoreKeyError("seal_names seals a store's names under its key: give a key file too")
        return {"format": str(PLAIN_FORMAT)}
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise InvalidMemoryError(f"key_depth: the number of namespace labels a data key covers, 1 or more, got "
                                 f"{depth!r}")
    store_id = uuid.uuid4().hex
    keys.add_store(store_id, names=seal_names)  # first: a crash before the store records it leaves an unused entry
    return {"format": str(SEALED_FORMAT), "sealed": CIPHER, "store_id": store_id, "key_depth": str(depth),
            **({"seal_names": "1"} if seal_names else {})}


def sealer_for(meta: dict[str, str], keys: KeyFile | None, where: str) -> Plain:
    """The store's Sealer (or Plain), once its meta table is known; StoreKeyError when the key does not fit."""
    if "sealed" not in meta:
        if keys is not None:
            raise StoreKeyError(f"{where} is a plain store (not encrypted): open it without a key file (unset "
                                f"SEMZIP_KEY_FILE); an encrypted copy is made by export, then import into a new store "
                                f"created with the key")
        return Plain()
    if keys is None:
        raise StoreKeyError(f"{where} is encrypted: give its key file (--key-file KEYFILE or SEMZIP_KEY_FILE; in "
                            f"Python MemoryStore(..., key=KEYFILE))")
    if meta["sealed"] != CIPHER:
        raise StoreKeyError(f"{where} is sealed with {meta['sealed']}; this semzip seals with {CIPHER}: upgrade semzip")
    if not keys.knows_store(meta["store_id"]):
        raise StoreKeyError(f"{where}: key file {keys.path} holds no keys of this store ({meta['store_id']}): the "
                            f"wrong key file; give the one the store was created with")
    names_key = None
    if meta.get("seal_names") == "1":
        names_key = keys.names_key(meta["store_id"])
        if names_key is None:
            raise StoreKeyError(f"{where} seals its names, and key file {keys.path} holds no names key of it: the "
                                f"wrong key file")
    return Sealer(keys, meta["store_id"], int(meta["key_depth"]), where, names_key)


def shred_keys(seal: Plain, namespace: tuple[str, ...], where: str) -> list[str]:
    """The data keys of namespace and of those under it destroyed in the key file (this process keeps its copies
    until the caller has deleted the rows: Sealer.forget); their prefixes. A namespace deeper than the key depth shares its parent's data key, so it cannot be shredded alone."""
    if not seal.is_sealed:
        raise StoreKeyError(f"{where} is a plain store: nothing to shred (delete --all deletes a namespace)")
    if len(namespace) > seal.depth:
        parent = "/".join(namespace[: seal.depth])
        raise InvalidMemoryError(f"namespace {'/'.join(namespace)!r} shares the data key of {parent!r} (key depth "
                                 f"{seal.depth}): shred {parent!r}, or delete this namespace")
    stored = values.join(namespace)
    prefixes = [p for p in seal.keys.prefixes(seal.store_id) if p == stored or p.startswith(stored + values.SEP)]
    seal.keys.shred(seal.store_id, prefixes, "/".join(namespace))
    return prefixes
