"""The bindings layer against the real library: pins, handles, memory ops, return codes."""
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bindings import (  # first: it sets ggml's matmul switches before llama.cpp loads (selftest.verdict_path)
    PINNED_LLAMA_CPP_PYTHON, Batch, Context, ContextParams, GrammarError, KVCacheFull, LlamaError, Model, ModelLoadError,
    Sampler, backend_report,
)
import llama_cpp

ROOT = Path(__file__).resolve().parents[1]


def test_installed_llama_cpp_python_matches_the_pin():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"llama-cpp-python=={PINNED_LLAMA_CPP_PYTHON}" in deps
    assert llama_cpp.__version__ == PINNED_LLAMA_CPP_PYTHON


def test_backend_report_lists_cpu():
    rep = backend_report()
    assert "CPU" in rep.backends
    assert any(d.kind == "CPU" for d in rep.devices)
    assert rep.llama_cpp_python == rep.pinned


def test_tokenize_detokenize_round_trip_and_special_tokens(runner):
    m = runner.model
    text = "Paris, 14 März 2026 — €48,000 ✓"
    assert m.detokenize(m.tokenize(text)) == text
    assert len(m.tokenize("<|im_start|>")) == 1
    assert len(m.tokenize("<|im_start|>", parse_special=False)) > 1


def test_chat_template_comes_from_the_gguf(runner):
    out = runner.model.apply_chat_template([{"role": "user", "content": "hi"}])
    assert out.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_loading_a_non_model_raises(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(ModelLoadError, match="bad.gguf"):
        Model(bad)


def test_batch_bounds():
    with Batch(3) as b:
        assert b.add_sequence([1, 2], 0, 0, logits_last=True) == 1
        b.add(3, 2, 0, True)
        with pytest.raises(LlamaError):
            b.add(4, 3, 0, True)


def test_memory_ops_and_decode_return_codes(runner):
    m = runner.model
    # llama.cpp rounds n_ctx up to 256 cells
    with Context(m, ContextParams(n_ctx=256, n_batch=256, n_ubatch=256, n_seq_max=2)) as ctx, Batch(256) as b:
        assert ctx.n_ctx == 256
        toks = m.tokenize("The quick brown fox jumps over the lazy dog.")
        b.add_sequence(toks, 0, 0, logits_last=True)
        ctx.decode(b)
        logits = ctx.logits(b.n_tokens - 1)
        assert logits.shape == (m.n_vocab,) and np.isfinite(logits).all()
        assert ctx.seq_pos_max(0) == len(toks) - 1
        ctx.seq_cp(0, 1)
        assert ctx.seq_pos_max(1) == len(toks) - 1
        ctx.seq_rm(1)
        assert ctx.seq_pos_max(1) == -1
        with pytest.raises(LlamaError):
            ctx.logits(0)  # no logits requested for entry 0
        b.clear()
        b.add_sequence(list(range(100, 350)), len(toks), 0, logits_last=True)
        with pytest.raises(KVCacheFull):
            ctx.decode(b)  # 250 more tokens do not fit in 256 cells
        assert ctx.seq_pos_max(0) == len(toks) - 1  # llama.h: memory restored after a failed decode
        ctx.memory_clear()
        assert ctx.seq_pos_max(0) == -1


def test_a_sequence_state_put_back_gives_the_logits_of_the_decoded_one_bit_for_bit(runner):
    m = runner.model
    with Context(m, ContextParams(n_ctx=256, n_batch=256, n_ubatch=256, n_seq_max=2)) as ctx, Batch(256) as b:
        prefix, more = m.tokenize("The quick brown fox jumps over"), m.tokenize(" the lazy dog")

        def next_logits() -> np.ndarray:  # seq 1 copies seq 0's KV, then reads on
            ctx.seq_cp(0, 1)
            b.clear()
            b.add_sequence(more, len(prefix), 1, logits_last=True)
            ctx.decode(b)
            out = ctx.logits(b.n_tokens - 1).copy()
            ctx.seq_rm(1)
            return out

        b.add_sequence(prefix, 0, 0, logits_last=False)
        ctx.decode(b)
        state = ctx.seq_state(0)
        decoded = next_logits()
        ctx.memory_clear()
        ctx.set_seq_state(state, 0)
        assert ctx.seq_pos_max(0) == len(prefix) - 1
        assert next_logits().tobytes() == decoded.tobytes()
        with pytest.raises(LlamaError, match="llama_state_seq_set_data"):
            ctx.set_seq_state(state[:10], 1)  # a cut state is refused, not half read


def test_bad_grammar_is_a_typed_error(runner):
    with pytest.raises(GrammarError):
        Sampler(runner.model, grammar="root ::= undefined-rule")


def test_grammar_sampler_accepts_only_what_the_grammar_allows(runner):
    m = runner.model
    with Sampler(m, grammar='root ::= "yes" | "no"') as s:
        assert s.accepts(m.tokenize("yes")[0])
        assert not s.accepts(m.tokenize("maybe")[0])


def test_greedy_argmax_is_the_greedy_samplers_choice(runner, chat_prompt):
    from bindings._lib import C

    ctx, batch = runner.ctx, runner.batch
    prompts = [chat_prompt(q) for q in ("Name a colour.", "Count to three.", "Say hi.")]
    runner.reset()  # the runner's samplers, KV and prefix: other tests find it as a fresh one
    batch.clear()
    last = [batch.add_sequence(list(p), 0, s, logits_last=True) for s, p in enumerate(prompts)]
    ctx.decode(batch)
    with Sampler(runner.model) as fast, Sampler(runner.model) as ref:
        for idx in last:
            assert fast.sample(ctx, idx) == int(C.llama_sampler_sample(ref._chain, ctx.handle, idx))
    runner.reset()


def test_a_captured_hidden_state_is_what_the_logits_are_made_of_and_the_graph_stops_there(lossless_model_path):
    """ContextParams.capture: decode() keeps the final hidden state of each output row and skips the output
    projection; projected with the GGUF's own output matrix it gives llama.cpp's logits (to its Q8 rounding)."""
    from engine.models import gguf

    model = Model(lossless_model_path)
    tokens = model.tokenize("Melanie: I painted a lake at sunrise last week.", add_special=True, parse_special=False)
    n = len(tokens)
    outs = {}
    for capture in (None, "result_norm"):
        with Context(model, ContextParams(n_ctx=256, n_batch=64, n_ubatch=64, n_seq_max=1, capture=capture)) as ctx:
            with Batch(64) as batch:
                batch.add_many(tokens, list(range(n)), [0] * n, [True] * n)
                if capture:
                    outs[capture] = np.array(ctx.decode_captured(batch, n))
                    with pytest.raises(LlamaError, match="captured"):
                        ctx.captured(n - 1)
                else:
                    ctx.decode(batch)
                    outs[capture] = np.array(ctx.all_logits(n))
    meta = gguf.read(lossless_model_path)
    info, raw = gguf.tensor(lossless_model_path, meta, "token_embd.weight")  # gemma ties its output to it
    rows = sorted(set(tokens))
    weights = np.concatenate([gguf.dequantize(info, raw, slice(t, t + 1)) for t in rows])
    mine = outs["result_norm"].astype(np.float64) @ weights.T.astype(np.float64)
    theirs = outs[None][:, rows]
    assert outs["result_norm"].shape == (n, info.shape[0])
    assert np.abs(mine - theirs).max() < 0.05 * np.abs(theirs).max()
    model.close()


def test_a_capture_of_a_node_the_graph_lacks_is_an_error(lossless_model_path):
    model = Model(lossless_model_path)
    with Context(model, ContextParams(n_ctx=64, n_batch=8, n_ubatch=8, n_seq_max=1, capture="no_such_node")) as ctx:
        with Batch(8) as batch:
            batch.add_many([2, 3], [0, 1], [0, 0], [False, True])
            with pytest.raises(LlamaError, match="no node of that name"):
                ctx.decode_captured(batch, 1)
    model.close()
