"""The key file of encrypted stores: a master key, and each store's data keys wrapped by it.

A data key seals one namespace and everything under it (at the store's key depth). Data keys live here, never in
the database: a copy or backup of the database carries no key, so destroying a namespace's data key (shred)
makes every copy of its data unreadable. The file is JSON, readable by its owner only, and every change is a new
file renamed over the old one under a lock: a process killed at any moment leaves the old file or the new one.
The master key is in the file, or in the system keyring (the file then names its entry).

    {"semzip_key_file": 1, "cipher": "AES-256-GCM", "master": {"key": B64} | {"keyring": NAME}, "check": B64,
     "stores": {STORE_ID: {"keys": {PREFIX: {"id": HEX8, "wrapped": B64}}, "shredded": {HEX8: {...}},
                           "names": {"wrapped": B64} (a store whose names are sealed)}}}
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import stat
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.store.errors import StoreKeyError

KEY_FILE_VERSION = 1
CIPHER = "AES-256-GCM"
NONCE_BYTES = 12
KEYRING_SERVICE = "semzip"
CHECK_TEXT = b"semzip master key"
NAMES_KEY_BYTES = 64  # AES-256-SIV, for a store whose names are sealed


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def _wrap(master: bytes, plain: bytes, ad: bytes) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _b64(nonce + AESGCM(master).encrypt(nonce, plain, ad))


def _unwrap(master: bytes, wrapped: str, ad: bytes) -> bytes:
    blob = _unb64(wrapped)
    return AESGCM(master).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], ad)


def _key_ad(store_id: str, prefix: str, key_id: str) -> bytes:
    return b"semzip data key\0" + "\0".join((store_id, prefix, key_id)).encode("utf-8")


@dataclass(frozen=True, slots=True)
class DataKey:
    id: bytes  # 4 bytes, written in every value it seals: a value sealed under a key since shredded is named so
    key: bytes  # 32 bytes


def generate(path: str | Path, keyring: bool = False) -> Path:
    """A new key file at path (never over an existing one), readable by its owner only; keyring: the master key
    goes to the system keyring and the file names its entry."""
    path = Path(path)
    if path.exists():
        raise StoreKeyError(f"{path} exists: a key file is never overwritten (losing it loses its stores); "
                            f"choose another path")
    master = AESGCM.generate_key(bit_length=256)
    doc = {"semzip_key_file": KEY_FILE_VERSION, "cipher": CIPHER, "master": _keep_master(master, keyring),
           "check": _wrap(master, CHECK_TEXT, b"check"), "stores": {}}
    _write(path, doc)
    return path


def _keep_master(master: bytes, keyring: bool) -> dict:
    if not keyring:
        return {"key": _b64(master)}
    name = uuid.uuid4().hex
    _keyring().set_password(KEYRING_SERVICE, name, _b64(master))
    return {"keyring": name}


def _keyring():
    try:
        import keyring
    except ImportError:
        raise StoreKeyError("the master key is in the system keyring, and the keyring package is not installed: "
                            "pip install 'semzip[keyring]'") from None
    return keyring


class KeyFile:
    """An opened key file: its master key checked; data keys read, added, destroyed and re-wrapped through it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._doc = self._load()
        self._master = self._master_key(self._doc)

    # -- reading
    def data_key(self, store_id: str, prefix: str, key_id: bytes | None = None) -> DataKey | None:
        """The data key of a namespace prefix (key_id: the one a sealed value names), reading the file again when
        this process does not know it (another process may have added it)."""
        found = self._find(store_id, prefix, key_id)
        if found is None and self.state() != self._loaded:  # read again only when the file changed
            self._doc = self._load()
            found = self._find(store_id, prefix, key_id)
        return found

    def shredded(self, store_id: str, key_id: bytes) -> dict | None:
        """What shred recorded of a destroyed data key ({"namespace", "at"}), or None."""
        return self._doc["stores"].get(store_id, {}).get("shredded", {}).get(key_id.hex())

    def knows_store(self, store_id: str) -> bool:
        return store_id in self._load()["stores"]

    def prefixes(self, store_id: str) -> list[str]:
        return sorted(self._doc["stores"].get(store_id, {}).get("keys", {}))

    def _find(self, store_id: str, prefix: str, key_id: bytes | None) -> DataKey | None:
        entry = self._doc["stores"].get(store_id, {}).get("keys", {}).get(prefix)
        if entry is None or (key_id is not None and entry["id"] != key_id.hex()):
            return None
        try:
            key = _unwrap(self._master, entry["wrapped"], _key_ad(store_id, prefix, entry["id"]))
        except Exception:
            raise StoreKeyError(f"{self.path}: the data key of namespace {prefix!r} does not open under the master "
                                f"key (the file was edited or damaged): restore the key file from its backup") from None
        return DataKey(bytes.fromhex(entry["id"]), key)

    # -- changing (each one new file renamed over the old, under the lock)
    def add_store(self, store_id: str, names: bool = False) -> None:
        """A store's entry; names: with a names key (a store whose names are sealed)."""
        with self._changing() as doc:
            entry = doc["stores"].setdefault(store_id, {"keys": {}, "shredded": {}})
            if names and "names" not in entry:
                entry["names"] = {"wrapped": _wrap(self._master, secrets.token_bytes(NAMES_KEY_BYTES),
                                                   _key_ad(store_id, "", "names"))}

    def names_key(self, store_id: str) -> bytes | None:
        entry = self._doc["stores"].get(store_id, {}).get("names")
        if entry is None:
            return None
        try:
            return _unwrap(self._master, entry["wrapped"], _key_ad(store_id, "", "names"))
        except Exception:
            raise StoreKeyError(f"{self.path}: the names key of store {store_id} does not open under the master key "
                                f"(the file was edited or damaged): restore the key file from its backup") from None

    def add_data_key(self, store_id: str, prefix: str) -> DataKey:
        """The prefix's data key, made now unless another process made it first."""
        with self._changing() as doc:
            keys = doc["stores"].setdefault(store_id, {"keys": {}, "shredded": {}})["keys"]
            if prefix not in keys:
                key_id = secrets.token_hex(4)
                keys[prefix] = {"id": key_id, "wrapped": _wrap(self._master, AESGCM.generate_key(bit_length=256),
                                                               _key_ad(store_id, prefix, key_id))}
        return self._find(store_id, prefix, None)

    def shred(self, store_id: str, prefixes: list[str], label: str) -> list[str]:
        """Destroy these prefixes' data keys (label: what was shredded, kept to name it in later errors); the
        prefixes that had one."""
        with self._changing() as doc:
            entry = doc["stores"].setdefault(store_id, {"keys": {}, "shredded": {}})
            gone = [p for p in prefixes if p in entry["keys"]]
            for p in gone:
                entry["shredded"][entry["keys"].pop(p)["id"]] = {"namespace": label, "at": time.time()}
        return gone

    def rekey(self, keyring: bool | None = None) -> None:
        """A new master key, every data key re-wrapped under it; the data is not touched. keyring: move the master
        key into (True) or out of (False) the system keyring; None keeps it where it is."""
        old_entry = None
        with self._changing() as doc:
            in_keyring = "keyring" in doc["master"] if keyring is None else keyring
            master = AESGCM.generate_key(bit_length=256)
            for store_id, entry in doc["stores"].items():
                for prefix, k in entry["keys"].items():
                    plain = _unwrap(self._master, k["wrapped"], _key_ad(store_id, prefix, k["id"]))
                    k["wrapped"] = _wrap(master, plain, _key_ad(store_id, prefix, k["id"]))
                if "names" in entry:
                    plain = _unwrap(self._master, entry["names"]["wrapped"], _key_ad(store_id, "", "names"))
                    entry["names"]["wrapped"] = _wrap(master, plain, _key_ad(store_id, "", "names"))
            old_entry = doc["master"].get("keyring")
            doc["master"] = _keep_master(master, in_keyring)  # a new keyring entry: the old one stays until the file moves
            doc["check"] = _wrap(master, CHECK_TEXT, b"check")
        self._master = master
        if old_entry is not None:
            try:
                _keyring().delete_password(KEYRING_SERVICE, old_entry)
            except Exception:
                pass  # already gone: nothing reads it any more

    @contextmanager
    def _changing(self):
        """The file's document as it is on disk now, under an exclusive lock; written back when the block ends."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            doc = self._load()
            if self._master_key(doc) != self._master:
                raise StoreKeyError(f"{self.path}: the master key changed under this process (rekeyed by another): "
                                    f"open the store again")
            yield doc
            _write(self.path, doc)
            self._doc = doc
        finally:
            os.close(fd)

    # -- the file itself
    def state(self) -> tuple:
        """The file's identity on disk (inode, modification time, size): it changes with every rewrite."""
        try:
            st = os.stat(self.path)
        except OSError:
            return ()
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _load(self) -> dict:
        self._loaded = self.state()  # before reading: a change made meanwhile is seen by the next check
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise StoreKeyError(f"key file {self.path} not found: give the store's key file (--key-file or "
                                f"SEMZIP_KEY_FILE), or make one with `semzip store keygen {self.path}`") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreKeyError(f"key file {self.path} can be read by others (mode {stat.S_IMODE(st.st_mode):o}): "
                                f"chmod 600 {self.path}")
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("semzip_key_file") != KEY_FILE_VERSION or doc.get("cipher") != CIPHER:
                raise ValueError(f"not a semzip key file of version {KEY_FILE_VERSION}")
            doc["stores"], doc["master"], doc["check"]  # noqa: B018 - present, or KeyError below
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreKeyError(f"key file {self.path} is not a semzip key file ({exc})") from None
        return doc

    def _master_key(self, doc: dict) -> bytes:
        where = doc["master"]
        if "keyring" in where:
            found = _keyring().get_password(KEYRING_SERVICE, where["keyring"])
            if found is None:
                raise StoreKeyError(f"key file {self.path}: its master key is not in the system keyring (entry "
                                    f"{KEYRING_SERVICE}/{where['keyring']}): restore it there")
            master = _unb64(found)
        else:
            master = _unb64(where["key"])
        try:
            if _unwrap(master, doc["check"], b"check") != CHECK_TEXT:
                raise ValueError
        except Exception:
            raise StoreKeyError(f"key file {self.path}: its master key does not match the file (edited or "
                                f"damaged): restore the key file from its backup") from None
        return master


def _write(path: Path, doc: dict) -> None:
    """doc as the file at path, whole or not at all: a new file (owner only), synced, renamed over the old."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a killed process of the same pid
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
