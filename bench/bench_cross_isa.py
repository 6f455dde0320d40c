"""Records across llama.cpp builds on one machine: coded by one build, decoded by another, bit for bit.

    python bench/bench_cross_isa.py --build avx2=~/.cache/semzip/llama.cpp-0.3.36/build-avx2/bin \
        [--build native=.../build-cpu/bin] [--n 6] [--json FILE]

"default" is the installed package (semzip's own x86-64-v3 wheel); each --build NAME=DIR is a llama.cpp library
folder loaded through LLAMA_CPP_LIB_PATH (bench/build_llama_cpp.sh avx2 llama ggml builds the AVX2-only one). Each
build codes the first --n LoCoMo dev sessions (and, --with-golden, the golden texts) into a .szr with `semzip compress --mode lossless`, then every build
decodes every build's records with `semzip reconstruct`. Prints whether the records are byte-identical across
builds, each (coder, decoder) pair's exact count (a file byte-identical to an earlier build's is decoded once, as
that build's), and each build's encode and decode seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import SHARED, machine, print_table  # noqa: E402


def _env(lib: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LLAMA_CPP_LIB_PATH"}
    if lib:
        env["LLAMA_CPP_LIB_PATH"] = str(Path(lib).expanduser())
    return env


def _semzip(args: list[str], lib: str | None) -> tuple[int, float, str]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=_env(lib), cwd=ROOT,
                          capture_output=True, text=True)
    return done.returncode, time.perf_counter() - t, done.stderr


def _kernels(lib: str | None) -> str:
    code = ("from engine.core.cpu import kernel_set; from engine.core.runner import backend_report; "
            "r = backend_report(); print(kernel_set(r.system_info)); print(r.system_info)")
    out = subprocess.run([sys.executable, "-c", code], env=_env(lib), cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip().replace("\n", "  ") or out.stderr.strip()[-200:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--json", default=None)
    ap.add_argument("--with-golden", action="store_true",
                    help="also the golden texts (tests/data/golden/p7): non-Latin text and names that escape coder "
                         "s1's shortlist, which the dev sessions never do")
    args = ap.parse_args()
    builds = {"default": None} | dict(b.split("=", 1) for b in args.build)
    rows = [json.loads(line) for line in (SHARED / "locomo-dev-sessions.jsonl").open()][: args.n]
    texts = {r["id"]: r["text"] for r in rows}
    if args.with_golden:
        golden = ROOT / "tests/data/golden/p7/texts.jsonl"
        texts |= {f"golden-{d['id']}": d["text"] for d in map(json.loads, golden.open(encoding="utf-8"))}
    flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split(":")[1].split()
    isa = [f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "bmi"))]
    print(f"machine: {machine()}; ISA flags: {' '.join(isa)}")
    work = Path(tempfile.mkdtemp(prefix="semzip-cross-isa-"))
    src = work / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in texts.items()))
    result: dict = {"machine": machine(), "isa": isa, "builds": {}, "pairs": {}}
    for name, lib in builds.items():
        rc, secs, err = _semzip(["compress", str(src), "-o", str(work / f"{name}.szr"), "--mode", "lossless",
                                 "--no-fallback"], lib)
        result["builds"][name] = {"lib": lib, "kernels": _kernels(lib), "encode_rc": rc, "encode_s": round(secs, 1)}
        if rc:
            print(f"{name}: compress failed ({rc}): {err[-400:]}")
    for name in builds:
        print(f"{name}: {result['builds'][name]['kernels']}")
    coded = {n: (work / f"{n}.szr").read_bytes() for n in builds if (work / f"{n}.szr").exists()}
    first = next(iter(coded.values()), b"")
    result["identical_records"] = all(data == first for data in coded.values())
    table = []
    distinct = {}  # byte-identical record files decode alike: each distinct file once per decoder
    for coder, data in coded.items():
        distinct.setdefault(data, coder)
    for coder in distinct.values():
        for decoder, lib in builds.items():
            back = work / f"{coder}-by-{decoder}.jsonl"
            rc, secs, err = _semzip(["reconstruct", str(work / f"{coder}.szr"), "-o", str(back)], lib)
            got = {d["id"]: d.get("text") for d in map(json.loads, back.open())} if back.exists() else {}
            exact = sum(got.get(i) == t for i, t in texts.items())
            result["pairs"][f"{coder}->{decoder}"] = {"exact": exact, "of": len(texts), "rc": rc, "decode_s": round(secs, 1)}
            table.append([coder, decoder, f"{exact}/{len(texts)}", rc, secs])
    print_table(["coded by", "decoded by", "exact", "exit", "decode s (whole process)"], table)
    print(f"records byte-identical across builds: {'yes' if result['identical_records'] else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
