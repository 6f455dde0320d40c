"""Encrypted stores: nothing of a memory at rest in the clear, keys that do not fit refused, shred and rekey.

Real model (the bundled lossless engine) where compaction must run: a few short memories, coded once per module.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from compactor_child import COMPACTOR

from engine.cli.cli import main
from engine.store import MemoryStore, Policy, Put
from engine.store.errors import CorruptMemoryError, InvalidMemoryError, StoreKeyError
from engine.store.key_file import KeyFile, generate

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = [json.loads(line) for line in (Path(__file__).parent / "data" / "conversations.jsonl").open()]
PUTS = [
    Put(("alice", "chat"), "s0", SESSIONS[0]["text"][:500], meta={"date": SESSIONS[0]["date_time"]}),
    Put(("alice", "chat"), "t1", "Priya: I finally booked the pottery class for Thursdays."),
    Put(("alice", "facts"), "json", {"text": "Marcus moved to Rua das Flores in Lisbon.", "n": 3}, meta={"kind": "fact"}),
    Put(("bob",), "z1", "A zstd note: " + "the violin lesson moved to Saturday mornings at nine. " * 4),
    Put(("bob",), "ttl", "Bob keeps his spare house key under the blue flowerpot.", ttl=10**9,
        meta={"kind": "secret"}),
]
POLICIES = {("bob",): Policy("zstd")}
CONTENT = {"semzip_memories": ("body", "hot", "fields", "vecs"), "semzip_packs": ("idx", "body", "vecs", "hot")}


def make_store(path, key, engine, embedder, **kw) -> MemoryStore:
    return MemoryStore(path, engine=engine, embed=embedder.embed, dims=384, compaction=False, policies=POLICIES,
                       key=key, **kw)


def fill(store: MemoryStore) -> None:
    """Every tier: packed (default policy), coded alone (zstd policy, a TTL), a kept copy, hot."""
    store.put_many(PUTS)
    report = store.compact(everything=True)
    assert not report.errors
    assert store.get(("bob",), "z1").value == PUTS[3].value  # a cold row read: its text kept hot beside it
    store.put(("alice", "chat"), "hot", "Priya: the kiln firing is next Monday, bring the bowls.")
    store.core.tiers.scrub()  # a checkpoint: the WAL written back


def files_bytes(path: Path) -> bytes:
    return b"".join(Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists())


def content_values(path: Path) -> list[bytes]:
    """Every content column's value of a store, as stored."""
    db = sqlite3.connect(path)
    found = []
    for table, columns in CONTENT.items():
        for col in columns:
            found += [bytes(v) if not isinstance(v, str) else v.encode() for (v,) in
                      db.execute(f"SELECT {col} FROM {table} WHERE {col} IS NOT NULL")]
    db.close()
    return found


@pytest.fixture(scope="module")
def stores(tmp_path_factory, lossless_engine, embedder):
    """A plain and an encrypted store holding the same memories, and the encrypted one's key file and dump."""
    d = tmp_path_factory.mktemp("sealing")
    key = generate(d / "store.key")
    for name, k in (("plain.db", None), ("sealed.db", key)):
        with make_store(d / name, k, lossless_engine, embedder) as store:
            fill(store)
            store.export(d / f"{name}.jsonl")
    return d


def test_nothing_of_a_memory_is_in_the_files_or_the_dump(stores):
    plain, sealed = files_bytes(stores / "plain.db"), files_bytes(stores / "sealed.db")
    dump = (stores / "sealed.db.jsonl").read_bytes()
    texts = [(p.value if isinstance(p.value, str) else p.value["text"]).encode() for p in PUTS]
    stored = [v for v in content_values(stores / "plain.db") if len(v) >= 24]  # records, zstd frames, vectors...
    assert len(stored) >= 8
    pieces = [max(t.split(b"\n"), key=len)[:25] for t in texts] + [v[len(v) // 2 - 8 : len(v) // 2 + 8] for v in stored]
    for piece in pieces:  # the search finds each in the plain store: it would find it in the encrypted one
        assert piece in plain + (stores / "plain.db.jsonl").read_bytes(), piece
    for piece in pieces:
        assert piece not in sealed and piece not in dump, piece
    assert b"Priya" not in sealed and b"pottery" not in dump


def test_an_encrypted_store_reads_everything_back(stores, lossless_engine, embedder):
    with make_store(stores / "sealed.db", stores / "store.key", lossless_engine, embedder) as store:
        for p in PUTS:
            m = store.get(p.namespace, p.key)
            assert m.value == p.value and m.meta == (p.meta or {})
        assert store.search(("alice",), "pottery class on Thursdays", limit=1)[0].key == "t1"
        assert store.search(("alice",), query=None, filter={"kind": "fact"})[0].key == "json"
        assert sorted(store.list(("alice", "chat"))) == ["hot", "s0", "t1"]


def test_a_dump_imports_into_a_new_encrypted_store_and_not_into_a_plain_one(stores, tmp_path):
    with MemoryStore(tmp_path / "copy.db", key=stores / "store.key", index=False, compaction=False) as store:
        report = store.import_(stores / "sealed.db.jsonl")
        assert report.imported == len(PUTS) + 1 and not report.errors
        assert store.get(("alice", "facts"), "json").value == PUTS[2].value
    with MemoryStore(tmp_path / "plain.db", index=False, compaction=False) as store:
        report = store.import_(stores / "sealed.db.jsonl")
        assert report.imported == 0 and "sealed line" in report.errors[0][1]


def snapshot(path: Path) -> tuple:
    db = sqlite3.connect(path)
    rows = [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("semzip_meta", *CONTENT)]
    db.close()
    return path.read_bytes(), rows


def test_a_key_that_does_not_fit_exits_2_with_the_fix_and_writes_nothing(stores, tmp_path, capsys, monkeypatch):
    sealed, plain = tmp_path / "sealed.db", tmp_path / "plain.db"
    shutil.copy(stores / "sealed.db", sealed)
    shutil.copy(stores / "plain.db", plain)
    other = generate(tmp_path / "other.key")
    before = {p: snapshot(p) for p in (sealed, plain)}
    monkeypatch.delenv("SEMZIP_KEY_FILE", raising=False)
    cases = [([str(sealed)], "is encrypted: give its key file"),
             ([str(sealed), "--key-file", str(other)], "holds no keys of this store"),
             ([str(sealed), "--key-file", str(tmp_path / "none.key")], "not found"),
             ([str(plain), "--key-file", str(stores / "store.key")], "is a plain store")]
    for args, why in cases:
        assert main(["store", "put", *args, str(tmp_path / "in.jsonl")]) == 2
        assert why in capsys.readouterr().err
    monkeypatch.setenv("SEMZIP_KEY_FILE", str(stores / "store.key"))  # the environment's key, as a default
    assert main(["store", "stats", str(plain)]) == 2
    assert "is a plain store" in capsys.readouterr().err
    assert {p: snapshot(p) for p in (sealed, plain)} == before
    os.chmod(other, 0o640)
    assert main(["store", "stats", str(sealed), "--key-file", str(other)]) == 2
    assert "chmod 600" in capsys.readouterr().err
    assert main(["store", "keygen", str(other)]) == 2  # never over an existing key file
    assert "never overwritten" in capsys.readouterr().err


def flip(path: Path, table: str, column: str, where: str) -> None:
    db = sqlite3.connect(path)
    (value,) = db.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()
    if isinstance(value, str):
        raw = bytearray(base64.b64decode(value))
        raw[len(raw) // 2] ^= 1
        value = base64.b64encode(bytes(raw)).decode()
    else:
        raw = bytearray(value)
        raw[len(raw) // 2] ^= 1
        value = bytes(raw)
    db.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (value,))
    db.commit()
    db.close()


@pytest.mark.parametrize("table, column, where, key", [
    ("semzip_memories", "body", "key = 'hot'", ("alice", "chat", "hot")),
    ("semzip_memories", "fields", "key = 'ttl'", ("bob", "ttl")),
    ("semzip_packs", "body", "ns = 'alice\x1fchat'", ("alice", "chat", "t1")),
    ("semzip_packs", "idx", "ns = 'alice\x1ffacts'", ("alice", "facts", "json")),
])
def test_a_flipped_bit_in_a_sealed_value_names_its_memory_and_the_others_read(stores, tmp_path, lossless_engine,
                                                                            embedder, table, column, where, key):
    path = tmp_path / "s.db"
    shutil.copy(stores / "sealed.db", path)
    flip(path, table, column, where)
    db = sqlite3.connect(path)
    db.execute("UPDATE semzip_packs SET hot = NULL")  # no kept texts (an earlier test read them): streams decode
    db.commit()
    db.close()
    with make_store(path, stores / "store.key", lossless_engine, embedder) as store:
        with pytest.raises(CorruptMemoryError, match=f"memory '{key[-1]}'.*do not open"):
            store.get(key[:-1], key[-1])
        for p in PUTS:
            if p.namespace != key[:-1]:  # every memory of another pack or row reads
                assert store.get(p.namespace, p.key).value == p.value


def test_a_sealed_value_moved_to_another_row_does_not_open(stores, tmp_path, lossless_engine, embedder):
    path = tmp_path / "s.db"
    shutil.copy(stores / "sealed.db", path)
    db = sqlite3.connect(path)
    db.execute("UPDATE semzip_memories SET body = (SELECT body FROM semzip_memories WHERE key = 'z1'), crc = "
               "(SELECT crc FROM semzip_memories WHERE key = 'z1'), hot = NULL WHERE key = 'ttl'")
    db.commit()
    db.close()
    with make_store(path, stores / "store.key", lossless_engine, embedder) as store:
        with pytest.raises(CorruptMemoryError, match="'ttl'.*moved from elsewhere"):
            store.get(("bob",), "ttl")
        assert store.get(("bob",), "z1").value == PUTS[3].value


def test_shred_reaches_copies_taken_before_it_and_dumps(stores, tmp_path, lossless_engine, embedder):
    path, backup, key = tmp_path / "s.db", tmp_path / "backup.db", tmp_path / "store.key"
    shutil.copy(stores / "sealed.db", path)
    shutil.copy(stores / "store.key", key)
    shutil.copy(stores / "sealed.db", backup)  # a backup taken before the shred, with the key file as it was then
    shutil.copy(stores / "sealed.db.jsonl", tmp_path / "dump.jsonl")
    assert main(["store", "shred", str(path), "--namespace", "alice", "--key-file", str(key)]) == 0
    with make_store(backup, key, lossless_engine, embedder) as store:
        for p in PUTS:
            if p.namespace[0] == "alice":
                with pytest.raises(CorruptMemoryError, match="namespace 'alice', shredded"):
                    store.get(p.namespace, p.key)
            else:
                assert store.get(p.namespace, p.key).value == p.value
    with make_store(path, key, lossless_engine, embedder) as store:
        assert store.list_namespaces() == [("bob",)]  # the rows are gone too
        store.put(("alice", "chat"), "new", "after the shred, a new data key")
        assert store.get(("alice", "chat"), "new").value == "after the shred, a new data key"
    with MemoryStore(tmp_path / "restored.db", key=key, index=False, compaction=False) as store:
        report = store.import_(tmp_path / "dump.jsonl")
        assert report.imported == 2 and all("shredded" in why for _, why in report.errors)
    with pytest.raises(InvalidMemoryError, match="shares the data key of 'bob'"):
        with make_store(path, key, lossless_engine, embedder) as store:
            store.shred(("bob", "deeper"))


REKEY = textwrap.dedent("""
    import os, signal, sys
    from engine.store import key_file
    real, when = os.replace, sys.argv[2]
    def replace(src, dst):
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)
    key_file.os.replace = replace
    key_file.KeyFile(sys.argv[1]).rekey()
""")


@pytest.mark.parametrize("when", ["before", "after"])
def test_rekey_killed_at_its_commit_leaves_the_old_key_or_the_new_one(stores, tmp_path, when):
    key = tmp_path / "store.key"
    shutil.copy(stores / "store.key", key)
    old = key.read_bytes()
    run = subprocess.run([sys.executable, "-c", REKEY, str(key), when], cwd=ROOT, env={**os.environ,
                         "PYTHONPATH": str(ROOT)}, capture_output=True)
    assert run.returncode == -9
    assert (key.read_bytes() == old) == (when == "before")
    with MemoryStore(stores / "sealed.db", key=key, index=False, compaction=False) as store:
        assert store.get(("alice", "chat"), "hot").value.startswith("Priya: the kiln")
        assert len(store.export(tmp_path / "all.jsonl", plain=True) and (tmp_path / "all.jsonl").read_text()) > 0
    KeyFile(key).rekey()  # and a whole rekey: the data untouched, every value still opens
    assert json.loads(key.read_text())["master"] != json.loads(old)["master"]
    with MemoryStore(stores / "sealed.db", key=key, index=False, compaction=False) as store:
        assert store.export(tmp_path / "all.jsonl", plain=True) == len(PUTS) + 1


def test_the_store_works_encrypted_on_both_databases(conn, tmp_path, lossless_engine, embedder):
    key = generate(tmp_path / "store.key")
    with make_store(conn, key, lossless_engine, embedder) as store:
        fill(store)
        got = store.get_many([(p.namespace, p.key) for p in PUTS])
        assert [m.value for m in got] == [p.value for p in PUTS]
        store.delete(("alice", "chat"), "t1")
        assert store.get(("alice", "chat"), "t1") is None
        store.vacuum()
        assert store.search(("alice",), "Lisbon", limit=1)[0].key == "json"
        assert store.shred(("alice",)) == 3
        assert store.get(("bob",), "ttl").value == PUTS[4].value
    with pytest.raises(StoreKeyError, match="is encrypted"):
        MemoryStore(conn, compaction=False)


WRITER = textwrap.dedent("""
    import sys
    from engine.store import MemoryStore
    with MemoryStore(sys.argv[1], key=sys.argv[2], index=False, compaction=False) as store:
        for i in range(40):
            store.put((f"{sys.argv[3]}{i}",), "k", f"memory {i} of writer {sys.argv[3]}")
""")


def test_two_processes_adding_data_keys_at_once_lose_none(tmp_path):
    key = generate(tmp_path / "store.key")
    path = tmp_path / "s.db"
    MemoryStore(path, key=key, index=False, compaction=False).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(key), w], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}) for w in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with MemoryStore(path, key=key, index=False, compaction=False) as store:
        for w in "ab":
            for i in range(40):
                assert store.get((f"{w}{i}",), "k").value == f"memory {i} of writer {w}"


def test_the_langgraph_store_on_an_encrypted_store(tmp_path):
    pytest.importorskip("langgraph")
    from engine.integrations.langgraph import SemzipStore

    key = generate(tmp_path / "store.key")
    with SemzipStore(tmp_path / "s.db", key=key, compaction=False) as store:
        store.put(("users", "alice"), "pref", {"text": "likes green tea"})
        assert store.get(("users", "alice"), "pref").value == {"text": "likes green tea"}
    assert b"green tea" not in files_bytes(tmp_path / "s.db")


def test_the_master_key_in_the_system_keyring(tmp_path):
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            self.entries = {}

        def get_password(self, service, username):
            return self.entries.get((service, username))

        def set_password(self, service, username, password):
            self.entries[(service, username)] = password

        def delete_password(self, service, username):
            del self.entries[(service, username)]

    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        key = tmp_path / "store.key"
        assert main(["store", "keygen", str(key), "--keyring"]) == 0
        assert "key" not in json.loads(key.read_text())["master"] and len(ring.entries) == 1
        with MemoryStore(tmp_path / "s.db", key=key, index=False, compaction=False) as store:
            store.put(("alice",), "k", "kept under a key from the keyring")
        KeyFile(key).rekey()  # a new entry; the old one deleted once the file names the new
        assert len(ring.entries) == 1
        with MemoryStore(tmp_path / "s.db", key=key, index=False, compaction=False) as store:
            assert store.get(("alice",), "k").value == "kept under a key from the keyring"
        ring.entries.clear()
        with pytest.raises(StoreKeyError, match="not in the system keyring"):
            MemoryStore(tmp_path / "s.db", key=key, index=False, compaction=False)
    finally:
        keyring.set_keyring(before)


def test_a_store_of_format_4_as_its_first_release_wrote_it_reads(tmp_path, lossless_engine, embedder):
    stored = Path(__file__).parent / "data" / "stores"
    expected = [json.loads(line) for line in (stored / "format4.jsonl").open(encoding="utf-8")]
    path, key = tmp_path / "s.db", tmp_path / "store.key"
    shutil.copy(stored / "format4.db", path)
    shutil.copy(stored / "format4.key", key)
    key.chmod(0o600)  # git keeps no file modes
    with MemoryStore(path, engine=lossless_engine, embed=embedder.embed, dims=384, compaction=False,
                     policies={("notes",): Policy("zstd")}, key=key) as store:
        assert dict(store.core.db.read("SELECT key, value FROM semzip_meta"))["format"] == "4"
        pairs = [(tuple(d["namespace"]), d["key"]) for d in expected]
        assert [(m.value, m.meta) for m in store.get_many(pairs)] == [(d["value"], d["meta"]) for d in expected]
        assert store.search(("chat",), "Lisbon", limit=1)[0].key == "json"
        assert store.compact(everything=True).memories == 1 and not store.compact().errors  # the hot one, packed
        assert [(m.value, m.meta) for m in store.get_many(pairs)] == [(d["value"], d["meta"]) for d in expected]
    with pytest.raises(StoreKeyError, match="is encrypted"):
        MemoryStore(path, compaction=False)


def test_sealed_names_hide_labels_and_keys_and_lookups_still_work(conn, tmp_path, lossless_engine, embedder):
    key = generate(tmp_path / "store.key")
    with make_store(conn, key, lossless_engine, embedder, seal_names=True) as store:
        fill(store)
        assert [m.value for m in store.get_many([(p.namespace, p.key) for p in PUTS])] == [p.value for p in PUTS]
        assert store.list_namespaces() == [("alice", "chat"), ("alice", "facts"), ("bob",)]
        assert store.list_namespaces(prefix=("alice",)) == [("alice", "chat"), ("alice", "facts")]
        assert sorted(store.list(("alice", "chat"))) == ["hot", "s0", "t1"]
        hit = store.search(("alice",), "Lisbon", limit=1)[0]
        assert (hit.namespace, hit.key) == (("alice", "facts"), "json")
        assert [s.namespace for s in store.stats()] == [("alice", "chat"), ("alice", "facts"), ("bob",)]
        assert store.delete(("bob",), "ttl") and store.get(("bob",), "ttl") is None
        store.put(("bob",), "ttl", "put again under the same key")
        assert store.get(("bob",), "ttl").value == "put again under the same key"
        store.export(tmp_path / "dump.jsonl")
        assert b"alice" not in (tmp_path / "dump.jsonl").read_bytes()
        assert store.shred(("alice",)) == 4 and store.list_namespaces() == [("bob",)]
    if not str(conn).startswith("postgresql"):
        raw = files_bytes(Path(conn))
        for name in (b"alice", b"bob", b"facts", b"s0", b"z1"):  # (ttl, hot: column names)
            assert name not in raw, name
    with make_store(conn, key, lossless_engine, embedder) as store:  # seal_names is the store's, kept
        assert store.get(("bob",), "z1").value == PUTS[3].value
    with MemoryStore(tmp_path / "copy.db", key=key, index=False, compaction=False) as store:
        report = store.import_(tmp_path / "dump.jsonl")  # the shredded namespace's lines do not open
        assert report.imported == 2 and len(report.errors) == 4
        assert store.get(("bob",), "z1").value == PUTS[3].value


def test_two_compactor_processes_on_an_encrypted_store(conn, tmp_path):
    key = generate(tmp_path / "store.key")
    texts = {f"m{i}": f"Memory {i}: the violin lesson moved to Saturday {i}." for i in range(20)}
    with MemoryStore(conn, mode="zstd", index=False, embed=None, compaction=False, key=key) as store:
        store.put_many([Put(("a",), k, v) for k, v in texts.items()])
    (tmp_path / "meet").mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", COMPACTOR, str(conn), str(tmp_path / "meet"), str(key)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    done = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in done]
    assert sum(json.loads(out)["memories"] for out, _ in done) == 20
    with MemoryStore(conn, mode="zstd", index=False, embed=None, compaction=False, key=key) as store:
        assert store.core.db.read("SELECT COUNT(*) FROM semzip_memories WHERE tier = 0") == [(0,)]  # all cold
        assert [m.value for m in store.get_many([(("a",), k) for k in texts])] == list(texts.values())
