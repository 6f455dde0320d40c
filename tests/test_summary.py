"""The run summary and `semzip report` for runs with nothing to average: n/a, never nan, no rate over no time."""
from engine.codecs.record import Record
from engine.jobs.summary import RunSummary
from engine.observe.monitor import percentiles
from engine.observe.report import format_report


def test_a_one_line_unscored_run_in_milliseconds_says_n_a():
    s = RunSummary(wall_s=0.007)
    s.add(200, Record("1", "llm", summary="a note"), "cpu")
    table = s.table()
    assert "nan" not in table.lower() and "items/min" not in table
    assert "n/a (not scored)" in table and "n/a (the run took 0.01 s)" in table
    assert s.as_dict()["items_per_min"] is None and s.as_dict()["quality_mean"] is None


def test_a_run_of_only_bad_lines_has_no_ratio():
    s = RunSummary(wall_s=12.0)
    s.add(0, Record("1", "error", error="not JSON", line=1), "cpu")
    table = s.table()
    assert "nan" not in table.lower() and "n/a (no records)" in table and "5.0 items/min over 12.0 s" in table
    assert s.as_dict()["ratio"] is None


def test_report_of_an_empty_run_says_n_a():
    empty = percentiles([])
    run = {"summary": {}, "records": 0, "kinds": {}, "rungs": {}, "honest_ratio": None, "ratio_percentiles": empty,
           "quality_percentiles": empty, "latency_percentiles": empty, "flagged": 0, "gpu_util_mean": None,
           "fallbacks": [], "quality_alerts": [], "_series": {}}
    text = format_report(run)
    assert "nan" not in text.lower() and "latency p50/p95/p99 (s): n/a" in text and "throughput: n/a" in text
