"""The fallback ladder, driven by real failures: no GPU in this build, an unloadable file, a context llama.cpp refuses."""
import json

from engine.cli.cli import main
from engine.codecs.item import Item
from engine.codecs.record import Record
from engine.codecs.summary.compressor import CompressConfig
from engine.core.runner import RunnerConfig
from engine.jobs.ladder import LadderEngine, plan
from texts import LANDLORD

NO_SCORE = CompressConfig(score=False)


def test_plan_orders_the_rungs():
    names = [r.name for r in plan(None, -1)]
    assert names == ["gpu", "gpu-partial", "cpu", "model:gemma-3-270m-q4_k_m", "extractive"]
    assert [r.name for r in plan("gemma-3-270m-q4_k_m", 0)] == ["cpu", "extractive"]


def test_gpu_rungs_fail_on_a_cpu_build_and_cpu_takes_over(model_path):
    steps = []
    with LadderEngine(None, RunnerConfig(n_gpu_layers=-1, num_slots=2), NO_SCORE, on_step=lambda r, why: steps.append((r, why))) as eng:
        assert eng.rung.name == "cpu"
        (rec,) = eng.compress_direct([Item("1", LANDLORD)])
    assert [r for r, _ in steps] == ["gpu", "gpu-partial"] and "no GPU offload" in steps[0][1]
    assert rec.kind in ("llm", "raw") and rec.rung == "c" and json.loads(rec.to_json())["r"] == "c"


def test_a_context_llama_cpp_refuses_steps_down_to_extractive(model_path):
    # 256 slots need 257 sequences (one holds the prefix): over llama.cpp's LLAMA_MAX_SEQ, so every model rung fails.
    with LadderEngine(None, RunnerConfig(num_slots=256), NO_SCORE) as eng:
        assert eng.rung.name == "extractive"
        assert [r for r, _ in eng.steps] == ["cpu", "model:gemma-3-270m-q4_k_m"]
        (rec,) = eng.compress_direct([Item("1", LANDLORD)])
    assert rec.kind == "extractive" and rec.rung == "x" and "$1,450" in " ".join(rec.facts)


def test_unloadable_model_file_falls_through_via_the_cli(tmp_path, caplog):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 4000)  # the right magic, garbage after it
    src = tmp_path / "in.txt"
    src.write_text(LANDLORD.replace("\n", " ") + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["compress", str(src), "-o", str(out), "--model", str(bad), "--no-score"]) == 0
    (rec,) = [Record.from_json(x) for x in out.read_text().splitlines()]
    assert rec.rung == "m1"  # the unpinned file failed to load: the lock's models take over, the default first
    assert "fallback: cpu failed" in caplog.text and "could not load model" in caplog.text
