"""Kept prefix KV bytes: the process's LRU and the files the next process reads, damaged ones never put back."""
import numpy as np

from engine.core.prefix_states import MAGIC, PrefixStates


def _state(n: int, fill: int) -> np.ndarray:
    return np.full(n, fill, dtype=np.uint8)


def test_a_state_comes_back_from_memory_and_in_the_next_process_from_disk(tmp_path):
    key = ("build", "cpu", "model", 42, (1, 2, 3))
    PrefixStates(tmp_path).put(key, _state(1000, 7))
    again = PrefixStates(tmp_path).get(key)  # a new instance: what the next process finds
    assert again is not None and again.tobytes() == _state(1000, 7).tobytes()
    assert PrefixStates(tmp_path).get(key[:-1] + ((1, 2, 4),)) is None  # another prefix: another key


def test_a_damaged_file_is_deleted_not_put_back(tmp_path):
    key = ("k",)
    PrefixStates(tmp_path).put(key, _state(100, 1))
    (path,) = tmp_path.glob("*.kv")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert PrefixStates(tmp_path).get(key) is None and not path.exists()
    path.write_bytes(b"not a state")
    assert PrefixStates(tmp_path).get(key) is None and not path.exists()
    assert MAGIC.startswith(b"semzip-kv")


def test_memory_and_disk_are_bounded_and_forget_drops_both(tmp_path):
    states = PrefixStates(tmp_path, memory_bytes=250, disk_files=2)
    for k in range(3):
        states.put((k,), _state(100, k))
    assert len(list(tmp_path.glob("*.kv"))) == 2  # the oldest file went
    memory_only = PrefixStates(None, memory_bytes=250)
    for k in range(3):
        memory_only.put((k,), _state(100, k))
    assert memory_only.get((0,)) is None and memory_only.get((2,)) is not None  # 250 bytes hold two
    states.forget((2,))
    assert states.get((2,)) is None and len(list(tmp_path.glob("*.kv"))) == 1


def test_an_unwritable_cache_only_costs_the_next_prefill(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be")
    states = PrefixStates(blocker / "kv")
    states.put(("k",), _state(10, 3))  # no error
    assert states.get(("k",)) is not None  # still kept in memory
    assert PrefixStates(blocker / "kv").get(("k",)) is None
