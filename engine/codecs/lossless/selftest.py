"""Start-up proof that the canonical regime holds on this build and machine, and a fuller report for new backends.

The quick check codes nothing: it decodes the same 24 tokens, after a context of more than 512 cells,
three ways (prefilled in chunks; one token at a time beside one padding stream; one token at a time
among six busy streams, on another slot) and requires bit-identical logits and final hidden states, or lossless mode
is refused (for one, when ggml was loaded before its matmul switches were set for the regime: regime.KERNEL_ENV).

    python -m engine.codecs.lossless.selftest --model PATH   # the report: which row counts agree
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from engine.codecs.lossless.priming import PRIMING_TEXT
from engine.codecs.lossless.regime import REGIME_ID, Regime, process_regime, regime_env_hint
from engine.codecs.lossless.stream import PrimedRunner
from engine.core.runner import backend_report, build_identity
from engine.errors import SemzipError
from engine.models import cache_dir

PROBE = ("Joanna: I finally finished the screenplay last night, all 112 pages! Nate: That's amazing, "
         "congrats! When do you send it to the festival in Austin?")


class RegimeError(SemzipError):
    """The build's numerics do not hold still inside any regime: lossless coding would not decode."""

    exit_code = 2


def _context(runner) -> tuple[list[int], list[int]]:
    text = PRIMING_TEXT * 3  # over 512 cells: flash attention's split-KV path would show here
    context = runner.model.tokenize(text, add_special=True, parse_special=False)
    probe = runner.model.tokenize(PROBE, add_special=False, parse_special=False)[:24]
    return context, probe


def _chunked(primed: PrimedRunner, probe: list[int], chunk: int, slot: int) -> np.ndarray:
    primed.start(slot)
    rows = []
    for a in range(0, len(probe), chunk):
        logits = primed.step({slot: (probe[a : a + chunk], primed.prime_len + a)}, min(chunk, len(probe) - a))
        rows.append(_outputs(primed, logits, slot))
    primed.release(slot)
    return np.concatenate(rows)


def _outputs(primed: PrimedRunner, logits: np.ndarray, slot: int) -> np.ndarray:
    """A slot's rows of the last step: its logits, and its final hidden states where the runner captures them."""
    rows = primed.last_plan.rows[slot]
    parts = [logits[rows]]
    if primed.captures:
        parts.append(primed.runner.captured(logits.shape[0])[rows])
    return np.concatenate(parts, axis=1)


def _stepped(primed: PrimedRunner, probe: list[int], slot: int, busy: list[int], filler: list[int]) -> np.ndarray:
    for s in [slot] + busy:
        primed.start(s)
    rows = []
    for k, token in enumerate(probe):
        feeds = {s: ([filler[(k + s) % len(filler)]], primed.prime_len + k) for s in busy}
        feeds[slot] = ([token], primed.prime_len + k)
        logits = primed.step(feeds, 1)
        rows.append(_outputs(primed, logits, slot))
    for s in [slot] + busy:
        primed.release(s)
    return np.concatenate(rows)


def check(runner, regime: Regime) -> Regime:
    """regime, proven to hold on this runner; raises RegimeError where it does not."""
    if runner.config.num_slots < 8:
        raise RegimeError("the self-test needs a runner with at least 8 slots")
    context, probe = _context(runner)
    primed = PrimedRunner(runner, regime, context)
    chunked = _chunked(primed, probe, 8, slot=0)
    alone = _stepped(primed, probe, 1, [], probe)
    crowded = _stepped(primed, probe, 5, [1, 2, 3, 4, 6, 7], probe[::-1])
    runner.drop_seq(primed.prime_slot)
    if np.array_equal(chunked, alone) and np.array_equal(chunked, crowded):
        return regime
    raise RegimeError(
        "lossless mode is refused on this build: the same token's logits change with the batch shape even inside "
        f"the canonical regime {regime.id}. On a CPU, llama.cpp must first load with {regime_env_hint(regime.id)} "
        "(import semzip before any other llama.cpp user, or export them). See `python -m "
        "engine.codecs.lossless.selftest --model ...`; or use summary mode")


def verdict_path(runner, regime: Regime, model_id: str) -> Path | None:
    """Where a pass on this build, model, CPU and regime is kept; None where a kept verdict cannot be trusted (ggml
    may have read its matmul switches before semzip set them, or they are not the regime's)."""
    rep = backend_report()
    if not rep.kernel_env_set_before_load or process_regime(rep.kernel_env) != regime.id:
        return None
    # The runner's numerics settings, not its size: slots, context and threads change which rows a step holds and
    # who computes them, never a row's bits (the regime's point; records decode with any --slots and --threads).
    numerics = dataclasses.replace(runner.config, num_slots=1, n_ctx=0, n_threads=0)
    parts = [repr(build_identity()), model_id, repr(regime), repr(numerics), f"{sys.version_info[:2]}"]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    return cache_dir() / "selftest" / f"{key}.passed"


def check_once(runner, regime: Regime, model_id: str) -> Regime:
    """check(), or the kept verdict of an earlier pass on the same build, model, CPU and regime (start-up in
    milliseconds instead of seconds); any change of them, or an untrusted load, runs the test again."""
    path = verdict_path(runner, regime, model_id)
    if path is not None and path.is_file():
        return regime
    check(runner, regime)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(f"passed {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs the next start-up its self-test
    return regime


def report(runner, regime: Regime) -> dict[str, bool]:
    """For each ubatch shape, whether the probe's rows match one token at a time beside one padding stream."""
    context, probe = _context(runner)
    primed = PrimedRunner(runner, regime, context)
    reference = _stepped(primed, probe, 1, [], probe)
    out = {}
    for chunk in (1, 2, 3, 4, 7, 8, 16, 24):
        shape = f"1 stream x {chunk} tokens" + (" (+1 padding stream)" if chunk < regime.min_rows else "")
        out[shape] = bool(np.array_equal(_chunked(primed, probe, chunk, 0), reference))
    for n in (2, 4, 8):
        busy = [s for s in range(n) if s != 1][: n - 1]
        out[f"{n} streams x 1 token"] = bool(np.array_equal(_stepped(primed, probe, 1, busy, probe[::-1]), reference))
    runner.drop_seq(primed.prime_slot)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--model", required=True, help="GGUF path or models.lock name")
    p.add_argument("--gpu-layers", type=int, default=0)
    args = p.parse_args(argv)
    from engine.core.runner import ModelRunner
    from engine.models import resolve

    path, _ = resolve(args.model)
    regime = Regime(id=process_regime() or REGIME_ID)
    with ModelRunner(path, regime.runner_config(8, n_gpu_layers=args.gpu_layers)) as runner:
        t = time.perf_counter()
        for shape, same in report(runner, regime).items():
            print(f"{shape:36s} {'same bits' if same else 'DIFFERENT'}")
        try:
            check(runner, regime)
            print(f"self-test passed ({time.perf_counter() - t:.1f} s)")
            return 0
        except RegimeError as exc:
            print(f"self-test FAILED: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
