"""The portable build: one x86-64-v3 kernel set in every mode, a clear refusal elsewhere, and real prefills.

A native build once died with SIGILL on an Intel Xeon with AMX at its first prefill of repacked weights, while
every test passed on the AMD machine that built it: the prefills here are real and long enough (128 tokens and
more) to take the kernels a user's first memory takes, in every mode.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.codecs.item import Item
from engine.codecs.lossless.selective_codec import SelectiveCodec
from engine.codecs.profiles import PORTABLE_KERNELS, REFERENCES
from engine.codecs.record import Record
from engine.core import cpu
from engine.core.runner import RunnerConfig, backend_report

from texts import LANDLORD

ROOT = Path(__file__).resolve().parents[1]
AVX512_BUILD = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                "AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")
V3_BUILD = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
            "OPENMP = 1 | REPACK = 1 |")


def test_this_install_runs_the_portable_kernels_and_no_amx():
    info = backend_report().system_info
    assert cpu.kernel_set(info) == PORTABLE_KERNELS, info
    assert not {"AVX512", "AMX_INT8", "AVX_VNNI"} & cpu.build_features(info)


def test_kernel_sets_are_named_by_what_the_build_compiled():
    assert cpu.kernel_set(V3_BUILD) == PORTABLE_KERNELS
    assert cpu.kernel_set(AVX512_BUILD) == "cpu-amx_int8+avx+avx2+avx512+avx512_vnni+avx_vnni+bmi2+f16c+fma+llamafile+sse3+ssse3"
    assert cpu.kernel_set(V3_BUILD.replace("LLAMAFILE = 1", "LLAMAFILE = 0")) != PORTABLE_KERNELS


def _cli(*args, flags: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LLAMA_CPP_LIB_PATH"}
    env.update({cpu.FLAGS_ENV: flags, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path)})
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("command", [["doctor"], ["compress", "-", "--mode", "lossless"], ["reconstruct", "in.jsonl"]])
def test_a_cpu_without_avx2_gets_exit_2_and_the_reason_never_sigill(tmp_path, command):
    coded = Record("a", "lossless", payload=b"\x01\x02", checksum=1, profile=REFERENCES[1])
    (tmp_path / "in.jsonl").write_text(coded.to_json() + "\n")
    done = _cli(*command, flags="fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx", tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr + done.stdout
    assert "cannot run the portable lossless profile cpu-x86-64-v3" in done.stderr + done.stdout
    assert "avx2, fma, f16c, bmi2" in done.stderr + done.stdout


def test_doctor_names_the_kernels_amx_and_the_profile_references(tmp_path):
    done = _cli("doctor", flags=" ".join(cpu.cpu_info().flags) + " amx_tile amx_int8", tmp_path=tmp_path)
    out = done.stdout
    assert f"CPU kernels in use: {PORTABLE_KERNELS}" in out
    assert "AMX: present, not used" in out
    assert "1 = a5fd3b62230aa5ec.r1." in out and f"lossless profile: {PORTABLE_KERNELS}" in out
    assert "3 = a5fd3b62230aa5ec.r2." in out and "lossless regime: r2 (GGML_CPU_TILED_MM=0" in out


def test_a_prefill_of_128_tokens_and_more_in_every_mode(model_path, lossless_engine):
    from engine.core.generator import BatchedGenerator
    from engine.core.runner import ModelRunner
    from engine.core.sequence import Request

    # Summary mode's runner repacks its weights (the path that met AMX): one 300-token prompt, one ubatch.
    with ModelRunner(model_path, RunnerConfig(num_slots=1, n_ctx=1024, n_batch=512)) as runner:
        prompt = tuple(runner.model.tokenize(LANDLORD[:1500]))
        assert len(prompt) >= 128
        (result,) = BatchedGenerator(runner).generate_all([Request(prompt, max_tokens=2)])
        assert result.num_prompt_tokens == len(prompt) and result.tokens
    # Lossless and the ratio knob: three memories at once fill 126-row ubatches (3 streams x 42 tokens).
    texts = [json.loads(line)["text"][:700] for line in (ROOT / "tests/data/conversations.jsonl").open()][:3]
    engine = lossless_engine
    assert min(len(engine.compressor.tokenizer.encode(t)) for t in texts) >= 128
    records = engine.compress(texts)  # (their round trip is test_lossless's: here the prefill is the point)
    assert [r.kind for r in records] == ["lossless"] * 3 and all(r.stored_bytes < len(t) for r, t in zip(records, texts))
    (record,) = SelectiveCodec(engine.compressor, ratio=20).compress([Item("k", texts[0])])
    assert record.kind == "kept" and record.stored_bytes < len(texts[0])
