"""Shape models (tools/make_shape_model.py): real tokenizer, exact shapes and Q4_K_M types, random weights.

The tiny model is Qwen2.5-7B's layout shrunk (2 layers, hidden 256) with the full 152,064-token
vocabulary, written directly in its quantized types: no llama.cpp build, a few seconds on 2 cores.
The 7B-sized one goes through llama-quantize on the GPU machine (bench/gpu_run.sh).
"""
from __future__ import annotations

import pytest

from engine import models
from engine.cli.cli import main
from engine.models import gguf as g
from tools import make_shape_model as sm

TINY = ["--layers", "2", "--hidden", "256", "--heads", "4", "--kv-heads", "2", "--ffn", "512"]
NAME = "shape-qwen2.5-7b-tiny"


@pytest.fixture(scope="module")
def meta(tmp_path_factory, model_path):
    out = tmp_path_factory.mktemp("shape") / "qwen.meta.gguf"
    assert sm.main(["meta", str(model_path), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def tiny(meta):
    out = meta.with_name("tiny-7b-shape.gguf")
    assert sm.main(["qwen2.5-7b", "--vocab", str(meta), "-o", str(out), *TINY]) == 0
    return out


def test_meta_keeps_every_key_and_the_tensor_list(meta, model_path):
    real, m = g.read(model_path), g.read(meta)
    assert m.tensors == [] and list(m.metadata)[:-1] == list(real.metadata)
    assert m.metadata["tokenizer.ggml.merges"].value == real.metadata["tokenizer.ggml.merges"].value
    assert [(t.name, t.shape, t.type) for t in sm.tensors_of(m)] == [(t.name, t.shape, t.type) for t in real.tensors]


def test_q4_k_m_rule_gives_the_real_files_types(model_path):
    paths = [model_path]
    gemma = models.model_file(models.load_lock().get("gemma-3-270m-q4_k_m"))
    if gemma.is_file():
        paths.append(gemma)
    for path in paths:
        f = g.read(path)
        arch = f.metadata["general.architecture"].value
        n_layer = int(f.metadata[f"{arch}.block_count"].value)
        tied = all(t.name != "output.weight" for t in f.tensors)
        assert [t.type for t in f.tensors] == sm.q4_k_m_types(f.tensors, n_layer, tied), path


def test_clone_has_the_reference_shapes_and_types(meta, tmp_path):
    out = tmp_path / "clone.gguf"
    assert sm.main(["clone", str(meta), "-o", str(out), "--layers", "1"]) == 0
    ref, c = g.read(meta), g.read(out)
    kept = [(t.name, t.shape, t.type) for t in sm.tensors_of(ref) if sm.layer_of(t.name) in (None, 0)]
    assert [(t.name, t.shape, t.type) for t in c.tensors] == kept
    assert c.metadata["qwen2.block_count"].value == 1


def test_tiny_shape_has_the_7b_layout_with_the_full_vocabulary(tiny):
    f = g.read(tiny)
    shapes = {t.name: t.shape for t in f.tensors}
    assert shapes["token_embd.weight"] == (256, 152_064) and shapes["blk.1.ffn_down.weight"] == (512, 256)
    assert shapes["blk.0.attn_k.weight"] == (256, 128)  # 2 KV heads of 64
    assert len(f.metadata["tokenizer.ggml.tokens"].value) == 152_064
    # Q4_K_M's extra bits: the output, and attn_v and ffn_down where use_more_bits(i, 2): layer 1 only
    assert {t.name for t in f.tensors if t.type == g.Q6_K} == {"output.weight", "blk.1.attn_v.weight",
                                                                "blk.1.ffn_down.weight"}


def test_engine_loads_it_and_decodes_to_the_forced_length(tiny):
    from engine.core.generator import BatchedGenerator
    from engine.core.runner import ModelRunner, RunnerConfig
    from engine.core.sequence import Request

    with ModelRunner(tiny, RunnerConfig(num_slots=2, n_ctx=1024, n_batch=256)) as runner:
        assert (runner.model.n_layer, runner.model.n_vocab) == (2, 152_064)
        text = runner.model.apply_chat_template([{"role": "user", "content": "Hello there"}])
        prompt = tuple(runner.model.tokenize(text))
        assert "<|im_start|>" in text and len(prompt) < 40  # the real Qwen2 tokenizer and chat template
        results = BatchedGenerator(runner).generate_all([Request(prompt, max_tokens=6, ignore_eos=True)] * 2)
    assert [len(r.tokens) for r in results] == [6, 6] and {r.finish_reason for r in results} == {"length"}


def test_doctor_reports_a_pinned_shape_model(tiny, tmp_path, monkeypatch, capsys):
    lock = tmp_path / "models.lock"
    lock.write_text(models.lock_path().read_text() + f'\n[models."{NAME}"]\narchitecture = "qwen2"\n'
                    'quantization = "Q4_K_M"\nsource = "user-path"\n')
    monkeypatch.setenv("SEMZIP_MODELS_LOCK", str(lock))
    assert main(["models", "pin", NAME, str(tiny)]) == 0
    assert main(["doctor"]) == 0
    assert f"{NAME}: present, verified ({tiny})" in capsys.readouterr().out
