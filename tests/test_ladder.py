"""The fallback ladder: runtime resource failures step down; a bad model the user names is a setup error (exit 2)."""
import json
import shutil
import struct

import pytest

from engine import models
from engine.cli.cli import main
from engine.codecs.item import Item
from engine.codecs.record import Record
from engine.codecs.summary.compressor import CompressConfig
from engine.core.runner import RunnerConfig
from engine.errors import ModelFileError
from engine.jobs.ladder import LadderEngine, plan
from texts import LANDLORD

NO_SCORE = CompressConfig(score=False)
GEMMA = "gemma-3-270m-q4_k_m"


def smaller_rungs() -> list[str]:
    """The smaller-model rungs this machine can run: `make test` fetches only the default model."""
    try:
        models.verify(models.load_lock().get(GEMMA))
        return [f"model:{GEMMA}"]
    except ModelFileError:
        return []


def test_plan_orders_the_rungs_and_leaves_out_models_that_are_not_ready():
    assert [r.name for r in plan(None, -1, "summary")] == ["gpu", "gpu-partial", "cpu", *smaller_rungs(), "extractive"]
    assert [r.name for r in plan(GEMMA, 0, "summary")] == ["cpu", "extractive"]


def test_gpu_rungs_fail_on_a_cpu_build_and_cpu_takes_over(model_path):
    steps = []
    on_step = lambda *step: steps.append(step)  # noqa: E731
    with LadderEngine(None, RunnerConfig(n_gpu_layers=-1, num_slots=2), NO_SCORE, on_step=on_step, mode="summary") as eng:
        assert eng.rung.name == "cpu"
        (rec,) = eng.compress_direct([Item("1", LANDLORD)])
    assert [(r, cause) for r, cause, _ in steps] == [("gpu", "no_gpu_offload"), ("gpu-partial", "no_gpu_offload")]
    assert rec.kind in ("llm", "raw") and rec.rung == "c" and json.loads(rec.to_json())["r"] == "c"


def test_a_context_llama_cpp_refuses_steps_down_to_extractive(model_path):
    # 256 slots need 257 sequences (one holds the prefix): over llama.cpp's LLAMA_MAX_SEQ, so every model rung fails.
    events = []
    with LadderEngine(None, RunnerConfig(num_slots=256), NO_SCORE, mode="summary") as eng:
        assert eng.rung.name == "extractive"
        assert [(r, cause) for r, cause, _ in eng.steps] == [(r, "context_refused") for r in ["cpu", *smaller_rungs()]]
        (rec,) = eng.compress_direct([Item("1", LANDLORD)], events.append)
    assert rec.kind == "extractive" and rec.rung == "x" and "$1,450" in " ".join(rec.facts)
    assert [(e.index, e.record.rung) for e in events] == [(0, "x")]  # the event carries the stamped record


def _broken_model_args(kind: str, tmp_path, monkeypatch) -> list[str]:
    """--model arguments naming a model that is misspelt, not GGUF, damaged, fails its checksum or cannot load."""
    if kind == "misspelt":
        return ["--model", "lossless"]  # what `--mode lossless` became when argparse still took abbreviations
    path = tmp_path / f"{kind}.gguf"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)  # a well-formed header of an empty model
    path.write_bytes({"not-gguf": b"PK\x03\x04 a zip file", "damaged": b"GGUF\x03\x00\x00\x00" + b"\xff" * 4000,
                      "unloadable": header, "checksum": header + b"\0" * 100}[kind])
    if kind != "checksum":
        return ["--model", str(path)]
    lock = tmp_path / "models.lock"  # a user-pinned entry whose sha256 the file does not match
    shutil.copy(models.lock_path(), lock)
    with lock.open("a") as f:
        f.write(f'\n[models.pinned]\narchitecture = "qwen2"\nquantization = "Q4_K_M"\nsource = "user-path"\n'
                f'path = "{path}"\nsize = {path.stat().st_size}\nsha256 = "{"0" * 64}"\n')
    monkeypatch.setenv("SEMZIP_MODELS_LOCK", str(lock))
    return ["--model", "pinned"]


@pytest.mark.parametrize("ladder", [[], ["--no-fallback"]], ids=["ladder", "no-ladder"])
@pytest.mark.parametrize("kind, words", [
    ("misspelt", "model file lossless is missing; fix: pass a lock name"),
    ("not-gguf", "is not a GGUF file (starts with b'PK"),
    ("damaged", "has a damaged GGUF header"),
    ("checksum", "sha256 mismatch, expected 0000"),
    ("unloadable", "could not load model"),
])
def test_a_bad_model_the_user_names_exits_2_before_any_work(kind, words, ladder, tmp_path, monkeypatch, capsys, caplog):
    argv = _broken_model_args(kind, tmp_path, monkeypatch)
    src = tmp_path / "in.txt"
    src.write_text("a short note about lunch\n")
    out = tmp_path / "out.jsonl"
    assert main(["compress", str(src), "-o", str(out), "--mode", "summary", "--no-score", *argv, *ladder]) == 2
    err = capsys.readouterr().err
    assert words in err and "fix:" in err
    assert not out.exists() and not (tmp_path / "out.jsonl.semzip.db").exists()  # no work, no store
    assert "fallback:" not in caplog.text  # the ladder never stepped


def test_summary_and_report_name_the_rung_that_made_the_records(tmp_path, capsys, model_path):
    src = tmp_path / "in.txt"  # short lines are kept raw: each rung handles them without generating
    src.write_text("a short note about lunch\nanother short note\n")
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    base = ["compress", str(src), "-o", str(out), "--mode", "summary", "--no-score", "--summary-json", str(summary)]
    assert main(base) == 0  # nothing fails: the first rung made everything
    s = json.loads(summary.read_text())
    assert s["rungs"] == {"cpu": 2} and s["fallbacks"] == []
    assert "records by ladder rung                          cpu 2" in capsys.readouterr().err
    # A KV cache of 16M tokens is more memory than this machine has: llama.cpp refuses every model's context.
    assert main(base + ["--gpu-layers", "-1", "--ctx-size", str(1 << 24)]) == 0
    s = json.loads(summary.read_text())
    failed = ["gpu", "gpu-partial", "cpu", *smaller_rungs()]
    assert s["rungs"] == {"extractive": 2}
    assert [f["rung"] for f in s["fallbacks"]] == failed
    assert [f["cause"] for f in s["fallbacks"]] == ["no_gpu_offload"] * 2 + ["context_refused"] * (len(failed) - 2)
    assert [Record.from_json(line).rung for line in out.read_text().splitlines()] == ["x", "x"]
    err = capsys.readouterr().err
    assert "records by ladder rung                          extractive 2" in err
    assert "fallback steps                                  gpu (no_gpu_offload); gpu-partial (no_gpu_offload); cpu (context_refused)" in err
    assert main(["report", str(out)]) == 0
    report = capsys.readouterr().out
    assert "records by ladder rung: extractive 2" in report
    assert f"fallbacks: {len(failed)}: gpu (no_gpu_offload); gpu-partial (no_gpu_offload); cpu (context_refused)" in report
