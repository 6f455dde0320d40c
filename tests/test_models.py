"""models.lock parsing and refusing bad model files before llama.cpp sees them."""
import shutil
import struct

import pytest

from engine import models
from engine.cli.cli import main
from engine.errors import ModelFileError
from engine.models import fetch

GGUF_HEADER = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)  # version 3, no tensors, no keys: a well-formed empty header


@pytest.fixture
def lock():
    return models.load_lock()


def test_lock_pins_the_three_models(lock):
    assert lock.default == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    qwen = lock.get(lock.default)
    assert qwen.size == 491_400_064 and qwen.sha256.startswith("1d9614638d18")
    assert len(qwen.packages) == len(qwen.chunks) == 6
    assert lock.get("gemma-3-270m-q4_k_m").size == 253_113_024
    assert lock.get("qwen2.5-7b-instruct-q4_k_m").source == "user-path"


def test_missing_not_gguf_truncated_and_mismatched_files_are_refused(lock, tmp_path):
    entry = lock.get(lock.default)
    with pytest.raises(ModelFileError, match=r"missing.*semzip models fetch"):
        models.verify(entry, tmp_path / "nope.gguf")
    text = tmp_path / "text.gguf"
    text.write_text("hello world")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        models.verify(entry, text)
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 4000)  # the magic, then garbage
    with pytest.raises(ModelFileError, match=r"damaged GGUF header \(version 3, 18446744073709551615 tensors"):
        models.verify(entry, damaged)
    short = tmp_path / "short.gguf"
    short.write_bytes(GGUF_HEADER + b"\0" * 80)
    with pytest.raises(ModelFileError, match=r"has 104 bytes, expected 491400064"):
        models.verify(entry, short)
    fake = models.ModelEntry("fake", "qwen2", "Q4_K_M", "pypi-chunks", 104, "0" * 64)
    with pytest.raises(ModelFileError, match=r"sha256 mismatch, expected 0{64}, actual [0-9a-f]{64}"):
        models.verify(fake, short)


def test_cli_refuses_a_bad_model_path_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model")
    assert main(["demo", "--n", "1", "--model", str(bad)]) == 2
    assert "bad.gguf is not a GGUF file" in capsys.readouterr().err


def test_pin_records_size_and_sha_of_a_user_file(lock, tmp_path, model_path):
    lock_copy = tmp_path / "models.lock"
    shutil.copy(lock.path, lock_copy)
    local = models.Lock(lock_copy, lock.default, lock.entries)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(GGUF_HEADER + b"\1" * 40)
    fetch.pin(local, "qwen2.5-7b-instruct-q4_k_m", gguf)
    pinned = models.load_lock(lock_copy).get("qwen2.5-7b-instruct-q4_k_m")
    assert pinned.size == 64 and pinned.path == str(gguf) and len(pinned.sha256) == 64
    assert models.verify(pinned) == gguf
    assert models.load_lock(lock_copy).get(lock.default) == lock.get(lock.default)  # other entries untouched


def test_default_model_is_present_and_verified(model_path):
    assert model_path.stat().st_size == 491_400_064
