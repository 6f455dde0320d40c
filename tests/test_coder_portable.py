"""Coder c2's probabilities are the same bits whatever SIMD code numpy runs (coder.py says why c1's were not).

On one machine: this process's numpy runs its best dispatched code (X86_V3 on an AVX2 machine, AVX-512 on a Xeon),
a child's runs its baseline (every dispatched target off with NPY_DISABLE_CPU_FEATURES); both compute the
probabilities of the same logits, and the bytes must be equal.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.codecs.lossless import coder

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys
import numpy as np
from engine.codecs.lossless import coder
np.save(sys.argv[2], coder.probabilities(np.load(sys.argv[1]), coder="c2"))
"""


def _active_targets() -> list[str]:
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]


def _rows(first_logits: np.ndarray) -> np.ndarray:
    """The model's real first-token logits, and rows that reach the coder's edges (ties, the cut, huge spreads)."""
    rng = np.random.default_rng(7)
    n = first_logits.size
    rows = [first_logits, rng.standard_normal(n) * 4, rng.standard_normal(n) * 40, np.zeros(n),
            np.linspace(-25, 5, n), rng.uniform(-1e6, 30, n)]
    edge = rng.standard_normal(n) * 6
    edge[:4096] = edge.max() - np.arange(4096) / 2048.0 * 20  # every step of the grid up to and past the cut
    rows.append(edge)
    return np.stack(rows).astype(np.float32)


def test_c2_gives_the_same_bits_on_numpy_s_baseline_code(lossless_engine, tmp_path):
    targets = _active_targets()
    if not targets:
        pytest.skip("numpy runs its baseline code here already: nothing to compare against")
    logits = _rows(lossless_engine.compressor.primed.first_logits)
    np.save(tmp_path / "logits.npy", logits)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(targets), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "logits.npy"), str(tmp_path / "probs.npy")],
                   env=env, check=True, timeout=120)
    here = coder.probabilities(logits, coder="c2")
    assert np.load(tmp_path / "probs.npy").tobytes() == here.tobytes()


def test_c2_is_exp_on_a_fine_grid_and_zero_past_the_cut():
    table = coder.exp_table()  # raises if its bytes are not the ones every record was coded with
    assert hashlib.sha256(table.tobytes()).hexdigest() == coder.TABLE_SHA256 and table[0] == 1.0
    d = np.linspace(0, 30, 3001, dtype=np.float32)
    p = coder.probabilities(-d.reshape(1, -1), coder="c2")[0]
    near = d < 19.99
    assert np.all(np.abs(p[near] / np.exp(-d[near].astype(np.float64)) - 1) < 1 / 256)  # the 1/256-nat grid
    assert np.all(p[d >= 20] == 0) and np.all(np.diff(p) <= 0)


def test_logits_that_are_not_numbers_are_refused():
    bad = np.zeros((1, 8), dtype=np.float32)
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        coder.probabilities(bad)
