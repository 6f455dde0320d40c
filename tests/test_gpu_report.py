"""The GPU run's table from row files (tools/gpu_report.py), and the matrix's row order (tools/gpu_matrix.py)."""
import json

from tools import gpu_matrix, gpu_report

BB = ('{"n_kv_max": 33024, "n_batch": 2048, "n_ubatch": 512, "flash_attn": -1, "is_pp_shared": 0, "n_gpu_layers": 999, '
      '"n_threads": 8, "n_threads_batch": 8, "pp": 190, "tg": 53, "pl": %d, "n_kv": 1, "t_pp": 0.1, "speed_pp": %f, '
      '"t_tg": 1.0, "speed_tg": %f, "t": 1.1, "speed": 1.0}')
LOSSLESS = """model load 3.1 s
| direction | memories | memories/min | tokens/s |
|---|---|---|---|
| encode | 16 | 1,234.5 | 9,876.0 |
| decode | 16 | 98.7 | 654.3 |
"""


def write(results, key, row, out=None):
    (results / f"{key}.json").write_text(json.dumps({"row": key, "cmd": ["x"], "wall_s": 1.0, **row}))
    if out is not None:
        (results / f"{key}.out.json").write_text(json.dumps(out))


def test_table_sets_each_row_beside_batched_bench_and_names_failures(tmp_path):
    gpu = {"gpu_util": [0.0, 90.0, 95.0], "gpu_mem_peak_mib": 5000.0}
    write(tmp_path, "7b__summary@8", {"rc": 0, "output": "", **gpu},
          {"n": 16, "slots": 8, "memories_per_min": 1200.0, "tokens_per_s": 800.0, "gen_tokens_per_s": 300.0,
           "mean_prompt_tokens": 190.2, "prompt_tokens": 3000, "generated_tokens": 1000, "wall_s": 0.8,
           "cpu_s": 0.6})
    write(tmp_path, "7b__summary@1", {"rc": 1, "output": "Traceback\nRuntimeError: boom"})
    write(tmp_path, "7b__batched-bench", {"rc": 0, "output": "\n".join([BB % (1, 900.0, 90.0), BB % (8, 2000.0, 250.0)])})
    write(tmp_path, "7b__lossless@8", {"rc": 0, "output": LOSSLESS, **gpu})
    write(tmp_path, "7b__lossless@1", {"rc": "missing", "output": "bench/bench_lossless.py is not on this branch"})
    write(tmp_path, "7b__selftest", {"rc": 0, "output": "1 row  same bits\n8 rows DIFFERENT\nself-test passed: min_rows=8"})
    text = gpu_report.render(tmp_path, ["7b"], [1, 8], "GPU run: test")
    # batched-bench's rates on this row's mix: 4000 tokens / (3000 / 2000 + 1000 / 250) s = 727.3 tokens/s
    assert "| 7b | 8 | 16 | 1,200.0 | 800.0 | 300.0 | 727.3 | 1.10 | 75 | 90 / 95 | 5,000 |" in text
    assert "| 7b | 1 | - | FAILED rc=1 |" in text
    assert "| 7b | 8 | 1,234.5 | 9,876.0 | 98.7 | 654.3 | 90 / 95 | 5,000 |" in text
    assert "| 7b | 1 | missing |" in text
    assert "8 rows DIFFERENT" in text and "self-test passed: min_rows=8" in text
    assert "best 1,200 memories/min at 8 seqs" in text and "8 seqs 110%" in text
    assert "RuntimeError: boom" in text  # a failure shows its last lines


def test_summary_rows_run_first_then_batched_bench_then_lossless():
    rows = gpu_matrix.plan(["7b", "0.5b"], [1, 8])
    kinds = [r.kind for r in rows]
    assert kinds.index("batched-bench") > max(i for i, k in enumerate(kinds) if k == "summary")
    assert kinds.index("selftest") > max(i for i, k in enumerate(kinds) if k == "batched-bench")
    assert rows[0].key == "7b__summary@1" and rows[-1].key == "0.5b__lossless@8"


def test_rows_get_the_monitors_gpu_samples(monkeypatch):
    import sys

    from engine.observe import monitor
    from engine.observe.gpu import GpuSample

    class FakeProbe:  # what NVML reports on a GPU machine, through the monitor's own sampler
        vendor, reason = "nvidia", ""

        def sample(self):
            return [GpuSample("nvidia", 0, "H100", 87.0, 6 * 2**30, 80 * 2**30, 300.0, 50.0)]

    monkeypatch.setattr(monitor, "GpuProbe", FakeProbe)
    row = gpu_matrix.sample_gpu([sys.executable, "-c", "import time; time.sleep(0.8)"], 30, {})
    assert row["rc"] == 0 and row["gpu_util"] and set(row["gpu_util"]) == {87.0}
    assert row["gpu_mem_peak_mib"] == 6 * 1024
