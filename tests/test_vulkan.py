"""The Vulkan path end to end, on a real Vulkan device (Mesa's lavapipe on a CPU machine works).

Skipped unless this process loaded a Vulkan build of llama.cpp: `make vulkan-test` builds one
(bench/build_vulkan_lavapipe.sh) and runs this file with LLAMA_CPP_LIB_PATH pointing at it and
GGML_VK_VISIBLE_DEVICES=0 (ggml hides CPU-type Vulkan devices such as lavapipe otherwise).
"""
import logging

import pytest

from engine.codecs.item import Item
from engine.codecs.summary.compressor import CompressConfig
from engine.jobs.ladder import LadderEngine

from engine.core.generator import BatchedGenerator
from engine.core.runner import ModelRunner, RunnerConfig, backend_report
from engine.core.sequence import Request
from texts import LANDLORD

REPORT = backend_report()
pytestmark = pytest.mark.skipif(
    "Vulkan" not in REPORT.backends or not REPORT.gpus,
    reason="no Vulkan device in this llama.cpp build (make vulkan-test builds one on lavapipe)",
)


def greedy_text(model_path, n_gpu_layers: int, chat) -> str:
    with ModelRunner(model_path, RunnerConfig(num_slots=2, n_ctx=2048, n_batch=512, n_gpu_layers=n_gpu_layers)) as r:
        msgs = [{"role": "user", "content": chat}]
        req = Request(tuple(r.model.tokenize(r.model.apply_chat_template(msgs))), max_tokens=24)
        (res,) = BatchedGenerator(r).generate_all([req])
        return r.model.detokenize(res.tokens)


def test_full_offload_runs_on_the_vulkan_device_and_matches_the_cpu(model_path, caplog):
    caplog.set_level(logging.DEBUG, logger="semzip.llama")
    gpu = greedy_text(model_path, -1, "Name three colours of the rainbow.")
    assert "offloaded 25/25 layers to GPU" in caplog.text
    cpu = greedy_text(model_path, 0, "Name three colours of the rainbow.")
    assert gpu.strip() and gpu == cpu


def test_compress_on_the_gpu_rung(model_path):
    cfg = RunnerConfig(n_gpu_layers=-1, num_slots=2, n_ctx=4096, n_batch=512)
    with LadderEngine(None, cfg, CompressConfig(score=False), mode="summary") as eng:
        (rec,) = eng.compress_direct([Item("1", LANDLORD)])
        assert eng.rung.name == "gpu" and not eng.steps
    assert rec.kind == "llm" and rec.rung is None and "$1,450" in " ".join(rec.facts)
