"""`semzip eval --curve`'s arithmetic and outputs (the model runs are measured by bench, not here)."""
import json

from engine.cli.curve import Point, _point, plot, table


def _qa(tmp_path, answers):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"conversation": "c", "sessions": [1], "answer": a}) + "\n" for a in answers))
    return str(path)


def test_a_point_counts_every_stored_byte_and_the_answers_the_reconstruction_keeps(tmp_path):
    text = "Anna: I moved to Lisbon in May 2023 with my dog Rex.\n"
    rows = [{"_id": "s1", "_text": text, "conversation": "c", "session": 1}]
    qa = _qa(tmp_path, ["Lisbon", "May 2023", "Rex", "Berlin"])  # Berlin is not in the original: not counted
    point = _point("ratio knob", "--ratio 4", rows, ["Anna: I moved to Lisbon …"], [len(text) / 4], qa,
                   store_s=30.0, read_s=6.0)
    assert point.ratio == 4.0
    assert point.answers_kept == 1 / 3
    assert (point.store_per_min, point.read_per_min) == (2.0, 10.0)
    assert _point("zstd -19", "exact", rows, [text], [20], qa).read_per_min is None


def test_table_and_plot_show_every_point(tmp_path):
    points = [Point("lossless", "exact", 9.4, 1.0, 12.9, 12.7), Point("ratio knob", "--ratio 16", 16.1, 0.7, 10.0, 20.0),
              Point("summary", "--ratio 8", 7.5, 0.5, 6.0), Point("zstd -19", "exact", 2.2, 1.0),
              Point("truncation", "at 16.1x", 16.1, 0.3)]
    lines = table(points).splitlines()
    assert len(lines) == 2 + len(points)
    assert "| ratio knob | --ratio 16 | 16.10x | 0.700 | 10.0 | 20.0 |" in lines
    assert "| zstd -19 | exact | 2.20x | 1.000 |  |  |" in lines
    path = tmp_path / "curve.png"
    plot(points, str(path), "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
