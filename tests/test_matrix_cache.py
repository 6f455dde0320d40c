"""Coder s1's output matrix cached on disk: the same bits as built from the GGUF, a damaged copy never used."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from engine.codecs.lossless import matrix_cache
from engine.codecs.lossless.projection import OutputMatrix


@pytest.fixture(scope="module")
def built(lossless_model_path):
    return OutputMatrix.from_gguf(lossless_model_path)


def same(a: OutputMatrix, b: OutputMatrix) -> bool:
    return (a.width == b.width and a.values.shape == b.values.shape and np.array_equal(a.values, b.values)
            and a.scales.tobytes() == b.scales.tobytes() and a.scales64.tobytes() == b.scales64.tobytes())


def test_a_cached_matrix_is_the_built_one_bit_for_bit(tmp_path, lossless_model_path, built):
    first = matrix_cache.output_matrix(lossless_model_path, tmp_path)  # built, then written
    assert same(first, built) and len(list(tmp_path.glob("*.json"))) == 1
    again = matrix_cache.output_matrix(lossless_model_path, tmp_path)  # read back, memory-mapped
    assert isinstance(again.values, np.memmap) and same(again, built)
    values, scales = again.rows([0, 7, built.n_vocab - 1])
    assert np.array_equal(values, built.rows([0, 7, built.n_vocab - 1])[0]) and scales.tobytes() == \
        built.rows([0, 7, built.n_vocab - 1])[1].tobytes()


def test_a_damaged_or_foreign_copy_is_rebuilt_not_used(tmp_path, lossless_model_path, built, caplog):
    matrix_cache.output_matrix(lossless_model_path, tmp_path)
    (values_file,) = tmp_path.glob("*.values.npy")
    raw = bytearray(values_file.read_bytes())
    raw[-1000] ^= 0x01  # one bit of one row
    values_file.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="semzip.lossless"):
        got = matrix_cache.output_matrix(lossless_model_path, tmp_path)
    assert same(got, built) and "checksum" in caplog.text
    assert same(matrix_cache.output_matrix(lossless_model_path, tmp_path), built)  # rewritten whole
    (meta_file,) = tmp_path.glob("*.json")
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "version": 0}))  # an older cache
    assert same(matrix_cache.output_matrix(lossless_model_path, tmp_path), built)
    assert json.loads(meta_file.read_text())["version"] == matrix_cache.CACHE_VERSION


def test_a_folder_that_cannot_be_written_still_gives_the_matrix(tmp_path, lossless_model_path, built):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert same(matrix_cache.output_matrix(lossless_model_path, blocked / "cache"), built)
