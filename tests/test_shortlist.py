"""Coder s1: our own integer projection onto a shortlist with an escape symbol (docs/FORMAT.md, "Coder s1").

The promise is bits: the frequencies are a function of the hidden state alone, whatever the BLAS, its threads or
the rows computed beside it, and records decode exactly, escapes included.
"""
import hashlib

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.codecs.item import Item
from engine.codecs.lossless import projection as P
from engine.codecs.lossless import shortlist


def _block_major(rows: np.ndarray, blocks: int) -> np.ndarray:
    n, width = rows.shape
    return np.ascontiguousarray(rows.reshape(n, blocks, width // blocks).transpose(1, 0, 2))


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, size=(3000, 640)).astype(np.int8)  # the widest values s1 allows
    w[:5] = 127
    q = rng.integers(-511, 512, size=(9, 640)).astype(np.float32)
    q[0] = 511
    exact = q.astype(np.int64) @ w.astype(np.int64).T
    return _block_major(w, 4), _block_major(q, 4).transpose(1, 0, 2).copy(), exact


def test_products_are_the_exact_integers_at_the_extremes(operands):
    values, q, exact = operands
    got = P.products(q, values)
    assert got.dtype == np.float64
    assert np.array_equal(got, exact.astype(np.float64))  # 5 rows at 640 * 511 * 127: sums past 2^24, still exact


def test_a_row_s_products_do_not_depend_on_the_rows_beside_it(operands):
    values, q, _ = operands
    together = P.products(q, values)  # nine rows: the matrix-product path
    for k in (1, 2, 4):  # the matrix-vector path
        assert together[:k].tobytes() == P.products(q[:k], values).tobytes()
    assert together[3:4].tobytes() == P.products(q[3:4], values).tobytes()


def test_products_do_not_depend_on_threads(operands, monkeypatch):
    values, q, _ = operands
    want = P.products(q, values).tobytes()
    for blas in (1, 2):
        with threadpool_limits(limits=blas, user_api="blas"):
            assert P.products(q, values).tobytes() == want
            assert P.products(q[:1], values).tobytes() == want[: values.shape[1] * 8]
    for workers in (2, 3):
        assert P.products(q, values, workers).tobytes() == want


def test_the_frequency_table_is_the_documented_one():
    t = P.table()
    assert t[0] == 1 << 24 and t[-1] == 0 and t.size == 4438
    assert hashlib.sha256(t.astype("<i8").tobytes()).hexdigest() == P.TABLE_SHA256


def test_frequencies_follow_the_documented_rule():
    logits = np.array([[10.0, 10.0 - 1 / 512, 9.0, -1e9]])
    f = P.frequencies(logits, np.array([1.0]))
    t = P.table()
    assert f.tolist() == [[t[0], t[1], t[256], 0]]  # 1/512 nat rounds half up to step 1


def test_hidden_states_quantize_to_10_bits_with_the_largest_at_511():
    h = np.array([[0.5, -2.0, 1.0, 0.0]], dtype=np.float32)
    q, scale = P.hidden_ints(h)
    assert q.tolist() == [[128.0, -511.0, 256.0, 0.0]] and scale.tolist() == [2.0 / 511]
    with pytest.raises(ValueError, match="not finite"):
        P.hidden_ints(np.array([[np.nan, 1.0]], dtype=np.float32))


def test_a_damaged_shortlist_is_refused(monkeypatch):
    sha = "a5fd3b62230aa5ec"
    monkeypatch.setitem(shortlist.SHORTLISTS, sha, (shortlist.SHORTLISTS[sha][0], "0" * 64))
    with pytest.raises(RuntimeError, match="damaged"):
        shortlist.shortlist_ids(sha)


def test_a_model_without_a_shortlist_codes_with_c2():
    from engine.codecs.lossless.codec import default_coder

    assert default_coder("a5fd3b62230aa5ec" + "0" * 48) == "s1"
    assert default_coder("f" * 64) == "c2"


RARE = ("Xochiquetzal Vandersloot-Oyelaran met Grzegorz Brzęczyszczykiewicz at the Ouagadougou café; "
        "Xochiquetzal said: ‽‽ ⟦zqxj⟧ ꙮ 𓂀 and Vandersloot-Oyelaran laughed.\n")


def test_s1_records_decode_exactly_escapes_included(lossless_engine):
    """Names and symbols outside the shortlist escape (twice for a repeated one: the second time it is in the
    list), byte-spelled words escape byte by byte, and all of it decodes bit for bit."""
    codec = lossless_engine.compressor
    assert codec.profile.coder == "s1"
    tokens = codec.tokenizer.encode(RARE)
    model = codec.coding("s1").model
    outside = [t for t in tokens if model.index[t] < 0]
    assert len(outside) > len(set(outside)) > 3  # escapes, and tokens that escaped before
    texts = [RARE, "ok", "", "Caroline: Hi Mel! How was the lake?\n" * 3]
    records = lossless_engine.compress(texts)
    assert {r.profile for r in records} == {"a5fd3b62230aa5ec.r2.8625a2b7.s1.cpu-x86-64-v3"}
    assert lossless_engine.decode(records) == texts


def test_an_s1_record_is_the_same_coded_alone_or_among_others(lossless_engine):
    texts = [RARE, "Melanie: I painted a lake at sunrise.\n" * 4, "Xochiquetzal again, and again.\n"]
    together = lossless_engine.compress(texts)
    alone = lossless_engine.compress([Item("x", texts[0])])
    assert together[0].payload == alone[0].payload


CHILD = """
import sys
import numpy as np
from engine.codecs.lossless import projection as P
from engine.codecs.lossless.shortlist import ShortlistModel
model = ShortlistModel(sys.argv[1], sys.argv[2])
q, scale = P.blocked_ints(model.matrix, np.load(sys.argv[3]))
np.save(sys.argv[4], P.frequencies(model.base_logits(q), scale))
np.save(sys.argv[5], P.full_frequencies(model.matrix, q[:2], scale[:2]))
"""


def test_s1_frequencies_are_the_same_bits_on_numpy_s_baseline_code_and_one_blas_thread(lossless_engine, tmp_path):
    """Real hidden states (the priming text's last, and rows far from it), projected here and in a child whose
    numpy runs its baseline code (no AVX2/AVX-512 loops) and whose BLAS runs one thread: the same frequencies."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from engine.codecs.lossless import arithmetic

    codec = lossless_engine.compressor
    first = codec.primed.first_hidden
    rng = np.random.default_rng(3)
    hidden = np.stack([first, first * 7.5, rng.standard_normal(first.size) * 40, -first]).astype(np.float32)
    model = codec.coding("s1").model
    q, scale = P.blocked_ints(model.matrix, hidden)
    here = P.frequencies(model.base_logits(q), scale)
    full = P.full_frequencies(model.matrix, q[:2], scale[:2])
    np.save(tmp_path / "h.npy", hidden)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OPENBLAS_NUM_THREADS": "1",
           "NPY_DISABLE_CPU_FEATURES": " ".join(arithmetic.numpy_active_targets())}
    subprocess.run([sys.executable, "-c", CHILD, str(codec.runner.model.path), codec.model_sha, str(tmp_path / "h.npy"),
                    str(tmp_path / "base.npy"), str(tmp_path / "full.npy")], env=env, check=True, timeout=300)
    assert np.load(tmp_path / "base.npy").tobytes() == here.tobytes()
    assert np.load(tmp_path / "full.npy").tobytes() == full.tobytes()
    assert (here > 0).sum() > 10  # not a degenerate row
