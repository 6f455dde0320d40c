"""One source for figures: bench/RESULTS.md and README.md's results block are rendered from bench/results/*.jsonl
(`python -m bench.report`, run here as a process: tests do not import bench), and every figure README.md quotes
elsewhere is on that page."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# README figures that are no measurement of ours, each with why (a target, a default, arithmetic, the issue's own).
NOT_MEASURED = {
    "3 s": "issue 20's goal for a read",
    "48 bytes": "a b1 vector's size for 384 dimensions, by arithmetic",
    "57 KB": "the 7B model's KV cache a token, by arithmetic",
    "1.227": "base 93's characters a byte, by arithmetic",
    "1.5%": "24 of 1,568 tokens, by arithmetic",
    "100 bytes": "a DialogSum record's size, roughly",
    "7 bytes": "the length of an id (dev_123)",
    "19%": "measured by the issue on an Intel Xeon, quoted; none was lent here",
    "13%": "measured by the issue on an Intel Xeon, quoted; none was lent here",
    "1.7x": "the issue's Intel run of an earlier suite, quoted; none was lent here",
    "19.2 s": "issue 35's table (held-out LoCoMo, before packs), quoted",
    "36 s": "issue 35's table (held-out LoCoMo, before packs), quoted",
    "0.75 s": "issue 35's table (held-out LoCoMo, before packs), quoted",
    "0.44x": "issue 35's table (held-out LoCoMo, before packs), quoted",
    "4.44x": "DialogSum's text bytes over its packs' bytes (the at-rest figure's settings), by arithmetic",
    "400 bytes": "a hot turn's row (record, 2-bit vector, key), roughly",
}
UNITS = r"x|ms|s|%|KB|bytes|tokens/s|tok/s|(?:sessions|memories|items|dialogues)/min|/min"
# a number and its unit, or any decimal number; not part of a name or version (Qwen2.5, 0.3.36, 0.5B, x86-64-v3)
FIGURE = re.compile(rf"(?<![\w.\-/])(\d{{1,3}}(?:,\d{{3}})+|\d+)(\.\d+)?(?:\s?({UNITS})(?![\w/])|(?![\w.\-]))")
TARGET = re.compile(r"\btargets?\b[^)]*\)?")  # "(target 7.5x: missed by 1.5%)", "targets (25 and 20 sessions/min)"


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.report", *args], cwd=ROOT, capture_output=True, text=True)


def prose(markdown: str) -> str:
    """markdown without fenced code, HTML comments and target phrases: what states measured figures."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return TARGET.sub("", " ".join(text.split()))


def unit_class(unit: str | None) -> str | None:
    return None if unit is None else "/min" if unit.endswith("/min") else "tokens/s" if unit == "tok/s" else unit


def figures(text: str) -> list[tuple[str, float, int, str | None]]:
    """(as written, value, decimals, unit) of every figure in text: a decimal number, or an integer with a unit."""
    out = []
    for m in FIGURE.finditer(text):
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if frac or unit:
            out.append((m.group(0).strip(), float((whole + frac).replace(",", "")), max(len(frac) - 1, 0),
                        unit_class(unit)))
    return out


def page_figures(page: str) -> list[tuple[float, str | None]]:
    """(value, unit) of every number in the page's tables, outside the date, machine, commit, command and history
    columns."""
    out = []
    for line in page.splitlines():
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        if len(cells) == 9 and not set("".join(cells)) <= set("-: "):
            for m in FIGURE.finditer(" ".join(cells[:4])):
                out.append((float((m.group(1) + (m.group(2) or "")).replace(",", "")), unit_class(m.group(3))))
    return out


def on_page(value: float, decimals: int, unit: str | None, page: list[tuple[float, str | None]]) -> bool:
    """Whether the page holds the figure, to the README's precision: an integer with a unit only beside the same
    unit; a decimal beside the same unit or none."""
    return any((round(v, decimals) == value or v == value) and (u == unit or unit is None or (u is None and decimals))
               for v, u in page)


def test_results_page_and_readme_block_are_what_the_data_gives():
    done = report("--check")
    assert done.returncode == 0, done.stderr


def test_readme_quotes_no_figure_the_results_page_lacks():
    page = page_figures((ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8"))
    found = figures(prose((ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(found) > 100 and len(page) > 300  # the check sees the figures it compares
    missing = sorted({written for written, value, decimals, unit in found
                      if written not in NOT_MEASURED and not on_page(value, decimals, unit, page)})
    assert missing == [], ("README.md quotes figures bench/RESULTS.md lacks: record them in bench/results "
                           "(bench/results.py), or, for what is no measurement, add them to NOT_MEASURED")


def test_every_exemption_is_still_quoted():
    written = {w for w, *_ in figures(prose((ROOT / "README.md").read_text(encoding="utf-8")))}
    assert set(NOT_MEASURED) - written == set()


def test_the_check_sees_what_it_looks_for():
    text = prose("at **14.4 ms a token against 22.8** (1.59x; target 7.5x: missed by 1.5%) on Qwen2.5-7B "
                 "0.3.36 x86-64-v3 (70 sessions, 3.6 KB each) `--ratio 16`\n```\n9.38x\n```\n<!-- 1.06x -->")
    assert [w for w, *_ in figures(text)] == ["14.4 ms", "22.8", "1.59x", "3.6 KB"]
    page = page_figures("| 14.40 ms | 22.83 | c2: 1.59x | 3 sessions | 2026-12-03 | m | c | `x` | |")
    assert page == [(14.4, "ms"), (22.83, None), (1.59, "x"), (3.0, None)]
    assert on_page(14.4, 1, "ms", page) and on_page(22.8, 1, None, page) and on_page(23.0, 0, None, page)
    assert not on_page(14.4, 1, "s", page) and not on_page(3.0, 0, "s", page)  # 3 s is not "3 sessions"


def test_report_shows_the_newest_line_of_each_metric_and_rewrites_nothing_when_unchanged(tmp_path):
    results, page = tmp_path / "results", tmp_path / "RESULTS.md"
    results.mkdir()
    base = {"area": "codec", "unit": "x", "dataset": "d", "settings": "s", "command": "python bench/b.py",
            "machine": "m", "commit": "abc1234", "date": "2026-12-01"}
    lines = [{**base, "metric": "ratio", "value": 9.38}, {**base, "metric": "speed", "value": 12, "unit": "/min"},
             {**base, "metric": "ratio", "value": 9.472, "date": "2026-12-03T10:00:00Z"}]
    (results / "codec.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[:2]))
    args = ["--results", str(results), "--page", str(page), "--history", str(tmp_path / "none.md"), "--page-only"]
    assert report(*args).returncode == 0
    first = page.read_bytes()
    assert "| ratio | 9.38x |" in first.decode() and "| speed | 12 /min |" in first.decode()
    assert report(*args).returncode == 0 and page.read_bytes() == first  # nothing changed: the same bytes
    assert report(*args, "--check").returncode == 0
    with (results / "codec.jsonl").open("a") as f:
        f.write(json.dumps(lines[2]) + "\n")
    assert report(*args, "--check").returncode == 1  # a newer line: the page is stale
    assert report(*args).returncode == 0
    text = page.read_text()
    assert "| ratio | 9.472x |" in text and "9.38" not in text and "| 2 runs |" in text
    assert text.index("| ratio |") < text.index("| speed |")  # metrics keep the order they first appeared in
    (results / "codec.jsonl").write_text(json.dumps({**lines[0], "machine": ""}) + "\n")
    done = report(*args)
    assert done.returncode == 2 and "missing ['machine']" in done.stderr  # a line without its machine is refused


def test_a_recorded_line_carries_machine_commit_and_date_and_shows_on_the_page(tmp_path):
    env = {**os.environ, "SEMZIP_BENCH_RESULTS": str(tmp_path / "results")}
    done = subprocess.run([sys.executable, "-m", "bench.results", "add", "codec", "lossless ratio, test set", "9.4719",
                           "x", "--dataset", "three texts", "--settings", "defaults", "--command", "semzip eval x"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in (tmp_path / "results" / "codec.jsonl").read_text().splitlines()]
    assert line["value"] == 9.472 and line["nproc"] >= 1 and line["cpu"] and line["machine"].startswith(line["cpu"])
    assert re.fullmatch(r"[0-9a-f]{7}(\+dirty)?|unknown \(no git\)", line["commit"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line["date"])
    page = tmp_path / "RESULTS.md"
    assert report("--results", str(tmp_path / "results"), "--page", str(page), "--page-only").returncode == 0
    assert "| lossless ratio, test set | 9.472x | three texts | defaults |" in page.read_text()
