"""Coder s1 (our projection onto a shortlist, with an escape) against coder c2 (llama.cpp's logits), in one run.

Usage: python bench/bench_shortlist.py [--sections heldout,lone,batch,cli] [--batch 24] [--lone 4]

- heldout: bytes on texts the shortlist never saw: the shortlist is rebuilt from half the dev sets (every other
  LoCoMo conversation, every even DialogSum dialogue) and the other half's texts are coded with c2 and with s1
  under that half-list (the shipped list holds every dev token, so the dev sets themselves never escape);
- lone: held-out sessions decoded one at a time (one stream beside a padding stream): ms per token, the model's
  share and the coder's, for c2, s1 with the shipped list and s1 with the half-list (held-out escapes);
- batch: --batch LoCoMo dev sessions encoded together (memories/min, bytes) and decoded together, c2 and s1;
- cli: `semzip reconstruct FILE --id X` of one LoCoMo-sized session, whole processes, c2's file and s1's;
- ratio: `--ratio 16` records (SelectiveCodec) of the first --ratio-sessions LoCoMo dev sessions with c2 and s1:
  ratio, answers kept (semzip eval's rule), store and read speed.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import SHARED, machine, print_table  # noqa: E402
from bench.results import record  # noqa: E402


def _dev():
    lo = [json.loads(line) for line in open(SHARED / "locomo-dev-sessions.jsonl")]
    ds = [json.loads(line)["dialogue"] for line in open(SHARED / "dialogsum-dev.jsonl")]
    convs = sorted({r["conversation"] for r in lo})
    half = set(convs[::2])
    train = [r["text"] for r in lo if r["conversation"] in half] + ds[::2]
    test_lo = [r["text"] for r in lo if r["conversation"] not in half]
    return lo, ds, train, test_lo, ds[1::2]


def _half_codec(base, model_sha: str, train: list[str]):
    """An s1 codec over the same runner whose shortlist is every token of the training half (sorted ids): its
    coding(), which every encode and decode asks for the coder's coding object, hands out one over that list."""
    from engine.codecs.lossless.codec import LosslessCodec
    from engine.codecs.lossless.step_coding import ShortlistCoding
    from engine.codecs.lossless.shortlist import ShortlistModel

    counts = collections.Counter()
    for text in train:
        counts.update(base.tokenizer.encode(text))
    model = ShortlistModel(base.runner.model.path, model_sha, ids=np.array(sorted(counts), dtype=np.int64))

    class HalfListCodec(LosslessCodec):
        def coding(self, coder: str):
            return half if coder == "s1" else super().coding(coder)

    codec = HalfListCodec(base.runner, model_sha, base.profile.kernels, base.regime, coder="s1")
    half = ShortlistCoding(codec.primed, model)
    return codec, len(counts)


def _items(texts):
    from engine.codecs.item import Item

    return [Item(str(i), t) for i, t in enumerate(texts)]


def _size(records) -> int:
    from engine.codecs.container import record_size

    return sum(record_size(r) for r in records)


def _decode_timed(codec, records):
    """(texts, wall s, tokens, model s, coding s, model steps) of one decompress call."""
    st = codec.primed.stats
    was = dataclasses.replace(st)
    t = time.perf_counter()
    out = codec.decompress(records)
    wall = time.perf_counter() - t
    return (out, wall, st.num_tokens - was.num_tokens, st.model_s - was.model_s, st.coding_s - was.coding_s,
            st.num_decodes - was.num_decodes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default="heldout,lone,batch,cli")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lone", type=int, default=4)
    ap.add_argument("--heldout-locomo", type=int, default=12)
    ap.add_argument("--heldout-dialogsum", type=int, default=60)
    ap.add_argument("--ratio-sessions", type=int, default=20)
    args = ap.parse_args()
    sections = set(args.sections.split(","))

    from engine.api import Engine
    from engine.codecs.lossless.codec import LosslessCodec
    from engine.core.runner import RunnerConfig

    lo, ds, train, test_lo, test_ds = _dev()
    print(f"{machine()}; sections {sorted(sections)}")
    with Engine(mode="lossless", read_cache_bytes=0, runner_config=RunnerConfig(num_slots=32)) as eng:
        base = eng.compressor
        codecs = {"c2": LosslessCodec(base.runner, eng.model_sha, base.profile.kernels, base.regime, coder="c2"),
                  "s1": base}
        assert base.profile.coder == "s1"
        codecs["s1"].compress(_items(["warm up"]))  # the output matrix and the shortlist load once per process
        half, half_size = _half_codec(base, eng.model_sha, train)
        half.compress(_items(["warm up"]))
        s1 = f"{eng.model_path.name}, profile {base.profile.key}"

        if "heldout" in sections:
            texts = test_lo[: args.heldout_locomo] + test_ds[: args.heldout_dialogsum]
            raw = sum(len(t.encode()) for t in texts)
            rows = []
            sizes = {}
            for name, codec in (("c2", codecs["c2"]), (f"s1, half-list ({half_size} tokens)", half)):
                t = time.perf_counter()
                records = codec.compress(_items(texts))
                sizes[name] = _size(records)
                rows.append([name, len(texts), raw, sizes[name], f"{raw / sizes[name]:.3f}",
                             f"{sizes[name] / sizes['c2'] - 1:+.2%}" if name != "c2" else "-",
                             f"{time.perf_counter() - t:.0f}"])
            print(f"\nheld-out: {args.heldout_locomo} LoCoMo sessions of the other conversations + "
                  f"{args.heldout_dialogsum} odd DialogSum dialogues")
            print_table(["coder", "texts", "text bytes", "record bytes", "ratio", "vs c2", "encode s"], rows)
            c2_b, s1_b = sizes.values()
            record("s1's extra bytes over c2, held-out texts", (s1_b / c2_b - 1) * 100, "%", area="codec",
                   dataset=f"{args.heldout_locomo} LoCoMo dev sessions of the other conversations + "
                           f"{args.heldout_dialogsum} odd DialogSum dev dialogues ({raw:,} bytes)",
                   settings=f"{s1} with a half-list of {half_size:,} tokens (built from the other half of the dev "
                            f"sets) against c2",
                   note=f"c2 {c2_b:,} bytes ({raw / c2_b:.3f}x), s1 {s1_b:,} ({raw / s1_b:.3f}x)")

        if "lone" in sections:
            texts = test_lo[: args.lone]
            rows = []
            per = collections.defaultdict(list)
            for i, text in enumerate(texts):
                for name, codec in (("c2", codecs["c2"]), ("s1", codecs["s1"]), ("s1 half-list", half)):
                    (rec,) = codec.compress(_items([text]))
                    out, wall, n, model_s, coding_s, steps = _decode_timed(codec, [rec])
                    assert out == [text], f"{name} did not give back session {i}"
                    per[name].append((wall, n, model_s, coding_s, steps))
            c2_ms = sum(r[0] for r in per["c2"]) / sum(r[1] for r in per["c2"])
            for name, runs in per.items():
                wall = sum(r[0] for r in runs)
                n = sum(r[1] for r in runs)
                steps = sum(r[4] for r in runs)
                rows.append([name, len(runs), n, f"{wall / n * 1e3:.2f}", f"{sum(r[2] for r in runs) / steps * 1e3:.2f}",
                             f"{sum(r[3] for r in runs) / n * 1e3:.2f}",
                             f"{c2_ms / (wall / n):.2f}x"])
            print(f"\nlone reads: {args.lone} held-out LoCoMo sessions, each coded then decoded alone (interleaved)")
            print_table(["coder", "sessions", "tokens", "ms/token", "model ms/step", "coder ms/token", "vs c2"], rows)
            figs = {r[0]: r for r in rows}  # coder -> [name, sessions, tokens, ms/token, model ms/step, ...]
            lone = dict(area="codec", dataset=f"{args.lone} held-out LoCoMo dev sessions ({figs['s1'][2]:,} tokens), "
                                              "each coded then decoded alone")
            record("lone read, ms per token", float(figs["s1"][3]), "ms",
                   settings=f"{s1}, the shipped shortlist; one stream beside a padding stream, coders interleaved",
                   note=f"coder c2 {figs['c2'][3]} ms (s1 {figs['s1'][6]}); the model's step {figs['s1'][4]} ms "
                        f"(c2 {figs['c2'][4]}), the coder {figs['s1'][5]} ms a token (c2 {figs['c2'][5]})", **lone)
            record("lone read with held-out escapes, ms per token", float(figs["s1 half-list"][3]), "ms",
                   settings=f"{s1} with the half-list, so the sessions' rare tokens escape as held-out text's would",
                   note=f"{figs['s1 half-list'][6]} faster than c2 ({figs['c2'][3]} ms); the model's step "
                        f"{figs['s1 half-list'][4]} ms, the coder {figs['s1 half-list'][5]} ms a token", **lone)

        if "batch" in sections:
            texts = [r["text"] for r in lo[: args.batch]]
            raw = sum(len(t.encode()) for t in texts)
            rows = []
            for name in ("c2", "s1"):
                codec = codecs[name]
                t = time.perf_counter()
                records = codec.compress(_items(texts))
                enc = time.perf_counter() - t
                out, dec, n, model_s, coding_s, _ = _decode_timed(codec, records)
                assert out == texts, f"{name} did not give back the batch"
                rows.append([name, len(texts), raw, _size(records), f"{raw / _size(records):.3f}",
                             f"{enc:.0f}", f"{len(texts) / enc * 60:.2f}", f"{dec:.0f}", f"{len(texts) / dec * 60:.2f}",
                             f"{model_s:.0f} / {coding_s:.0f}"])
            print(f"\nbatch: the first {args.batch} LoCoMo dev sessions (in the shipped shortlist's data), 32 slots")
            print_table(["coder", "sessions", "text bytes", "record bytes", "ratio", "encode s", "encoded/min",
                         "decode s", "decoded/min", "decode model / coder s"], rows)
            c2, s1r = rows  # [coder, sessions, text bytes, record bytes, ratio, enc s, enc/min, dec s, dec/min, ...]
            batch = dict(area="codec", settings=f"{s1}, 32 slots")
            record("lossless ratio, LoCoMo dev", raw / s1r[3], "x", area="codec",
                   settings=f"{s1}, 32 slots, one batch; record bytes, ids 0-{len(texts) - 1}",
                   dataset=f"LoCoMo dev, first {len(texts)} sessions ({raw:,} bytes)",
                   note=f"{s1r[3]:,} record bytes, coder c2 in the same run {c2[3]:,} (s1 {s1r[3] / c2[3] - 1:+.1%})")
            record("lossless encode, LoCoMo dev", float(s1r[6]), "sessions/min", **batch,
                   dataset=f"LoCoMo dev, first {len(texts)} sessions ({raw:,} bytes), coded together",
                   note=f"coder c2 in the same run {c2[6]} (s1 {float(s1r[6]) / float(c2[6]):.2f}x)")
            record("lossless decode, LoCoMo dev", float(s1r[8]), "sessions/min", **batch,
                   dataset=f"LoCoMo dev, first {len(texts)} sessions ({raw:,} bytes), decoded together",
                   note=f"coder c2 in the same run {c2[8]} (s1 {float(s1r[8]) / float(c2[8]):.2f}x); model / coder "
                        f"{s1r[9]} s (c2 {c2[9]})")

        if "cli" in sections:
            from engine.codecs.container import write_container

            sizes = sorted(lo, key=lambda r: len(r["text"]))
            text = sizes[len(sizes) // 2]["text"]  # a median LoCoMo session
            rows = []
            with tempfile.TemporaryDirectory() as tmp:
                files = {}
                for name in ("c2", "s1"):
                    (rec,) = codecs[name].compress(_items([text]))
                    rec.id = "median"
                    files[name] = Path(tmp) / f"{name}.szr"
                    write_container(str(files[name]), [rec])
                times = collections.defaultdict(list)
                for _ in range(2):
                    for name, path in files.items():
                        t = time.perf_counter()
                        done = subprocess.run([sys.executable, "-m", "engine.cli", "reconstruct", str(path), "--id",
                                               "median"], capture_output=True, text=True, cwd=ROOT)
                        times[name].append(time.perf_counter() - t)
                        back = json.loads(done.stdout.splitlines()[0]).get("text") if done.returncode == 0 else None
                        assert back == text, done.stderr[-500:]
                for name, ts in times.items():
                    rows.append([name, len(text.encode()), " / ".join(f"{x:.1f}" for x in ts),
                                 f"{min(times['c2']) / min(ts):.2f}x"])
            print("\n`semzip reconstruct FILE --id X`, a median LoCoMo dev session, whole processes (two runs each)")
            print_table(["coder", "text bytes", "seconds", "vs c2 (best)"], rows)
            record("one session read alone, whole process", min(times["s1"]), "s", area="codec",
                   dataset=f"a median LoCoMo dev session ({len(text.encode()):,} bytes), one record per file",
                   settings=f"`semzip reconstruct FILE --id X`, {s1}; best of two runs ({rows[1][2]} s), model load "
                            "and the kept self-test verdict included",
                   note=f"coder c2: {rows[0][2]} s (s1 {rows[1][3]})")

        if "ratio" in sections:
            from engine.cli.evaluate import answer_retention, load_corpus
            from engine.codecs.container import FOOTER, MAGIC
            from engine.codecs.lossless.selective_codec import SelectiveCodec

            rows_in = load_corpus(str(SHARED / "locomo-dev-sessions.jsonl"), args.ratio_sessions)
            texts = [r["_text"] for r in rows_in]
            raw = sum(len(t.encode()) for t in texts)
            rows = []
            for name in ("c2", "s1"):
                knob = SelectiveCodec(codecs[name], 16)
                t = time.perf_counter()
                records = knob.compress(_items(texts))
                enc = time.perf_counter() - t
                out, dec, *_ = _decode_timed(codecs[name], records)
                framing = (len(MAGIC) + 2 + FOOTER.size) / len(records)
                sizes = [record_size + framing for record_size in map(lambda r: _size([r]), records)]
                answers, kept, _ = answer_retention(rows_in, [o if isinstance(o, str) else "" for o in out], sizes,
                                                     str(SHARED / "locomo-dev-qa.jsonl"))
                rows.append([name, len(texts), f"{raw / sum(sizes):.2f}x", answers, f"{kept:.3f}",
                             f"{len(texts) / enc * 60:.2f}", f"{len(texts) / dec * 60:.2f}"])
            print(f"\n`--ratio 16` records of the first {args.ratio_sessions} LoCoMo dev sessions")
            print_table(["coder", "sessions", "honest ratio", "answers present", "answers kept", "stored/min",
                         "read/min"], rows)
            c2, s1r = rows  # [coder, sessions, ratio, answers present, kept, stored/min, read/min]
            record("ratio knob at 16 with coder s1, answers kept", float(s1r[4]), "", area="codec",
                   dataset=f"LoCoMo dev, first {len(texts)} sessions ({s1r[3]} answers present in the originals)",
                   settings=f"`--ratio 16` (SelectiveCodec), {s1}; answers kept by `semzip eval`'s rule",
                   note=f"honest ratio {s1r[2]} (coder c2 {c2[2]}, {c2[4]} kept); stored {s1r[5]} / read {s1r[6]} "
                        f"sessions/min (c2 {c2[5]} / {c2[6]})")


if __name__ == "__main__":
    main()
