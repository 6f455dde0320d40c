"""Coder c2's probabilities are the same bits whatever SIMD code numpy runs (arithmetic.py says why c1's were not).

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

from engine.codecs.lossless import arithmetic
from engine.codecs.profiles import REFERENCES
from engine.codecs.record import Record

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys
import numpy as np
from engine.codecs.lossless import arithmetic
from engine.codecs.profiles import REFERENCES
from engine.codecs.record import Record
np.save(sys.argv[2], arithmetic.probabilities(np.load(sys.argv[1]), coder="c2"))
"""


ENCODE_C1 = """
import sys
from engine.api import Engine
from engine.codecs.item import Item
from engine.codecs.lossless.codec import LosslessCodec
from engine.core.runner import RunnerConfig
with Engine(mode="lossless", runner_config=RunnerConfig(num_slots=2)) as engine:
    base = engine.compressor
    old = LosslessCodec(base.runner, engine.model_sha, base.profile.kernels, base.regime, coder="c1")
    print(old.compress([Item("old", sys.argv[1])])[0].to_json())
"""
OLD_NOTE = "Ann: the plumber comes on Tuesday at 8:15, so leave the side gate open.\nTom: OK, and I'll pay him 120 EUR."



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
    targets = arithmetic.numpy_active_targets()
    if not targets:
        pytest.skip("numpy runs its baseline code here already: nothing to compare against")
    logits = _rows(lossless_engine.compressor.primed.first_logits)
    np.save(tmp_path / "logits.npy", logits)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(targets), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "logits.npy"), str(tmp_path / "probs.npy")],
                   env=env, check=True, timeout=120)
    here = arithmetic.probabilities(logits, coder="c2")
    assert np.load(tmp_path / "probs.npy").tobytes() == here.tobytes()


def test_c2_is_exp_on_a_fine_grid_and_zero_past_the_cut():
    table = arithmetic.exp_table()  # raises if its bytes are not the ones every record was coded with
    assert hashlib.sha256(table.tobytes()).hexdigest() == arithmetic.TABLE_SHA256 and table[0] == 1.0
    d = np.linspace(0, 30, 3001, dtype=np.float32)
    p = arithmetic.probabilities(-d.reshape(1, -1), coder="c2")[0]
    near = d < 19.99
    assert np.all(np.abs(p[near] / np.exp(-d[near].astype(np.float64)) - 1) < 1 / 256)  # the 1/256-nat grid
    assert np.all(p[d >= 20] == 0) and np.all(np.diff(p) <= 0)


def test_logits_that_are_not_numbers_are_refused():
    bad = np.zeros((1, 8), dtype=np.float32)
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        arithmetic.probabilities(bad)


def test_a_c1_record_coded_on_other_numpy_code_is_decoded_again_with_this_machine_s_extra_code_off(
        lossless_engine, monkeypatch):
    """Coder c1 on a machine whose numpy runs wider SIMD code than the coding machine's: the record fails its checksum
    here, and decodes in a child with that code off. Played on one machine: the record is coded by a child on numpy's
    baseline code, and this process is told its own dispatched targets are the extra ones (as AVX-512's would be)."""
    targets = arithmetic.numpy_active_targets()
    if not targets:
        pytest.skip("numpy runs its baseline code here already: no other code to code a record on")
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(targets), "PYTHONPATH": str(ROOT)}
    made = subprocess.run([sys.executable, "-c", ENCODE_C1, OLD_NOTE], env=env, capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    rec = Record.from_json(made.stdout.strip().splitlines()[-1])
    assert rec.profile == REFERENCES[3]  # c1, regime r2: the release before's records
    from engine.codecs.lossless import codec as codec_module
    from engine.codecs.lossless import legacy

    monkeypatch.setattr(codec_module, "numpy_targets_beyond_x86_64_v3", lambda: targets)
    retried = []
    real = legacy.decode_elsewhere
    monkeypatch.setattr(legacy, "decode_elsewhere", lambda records, *a, **k: retried.append(k or a) or
                        real(records, *a, **k))
    assert lossless_engine.decode([rec]) == [OLD_NOTE]
    assert retried, "the record decoded here at once: this numpy's code gave the coder's bits, nothing was retried"
