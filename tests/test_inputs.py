"""Input reading: every bad line becomes a LineError naming its line; good lines become items."""
import json

from engine.codecs.item import Item
from engine.jobs.inputs import LineError, read_items


def test_jsonl_good_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": "m1", "text": "hello world", "who": "me"}).encode(),
        b"not json at all",
        json.dumps({"id": "m3"}).encode(),
        json.dumps({"text": 42}).encode(),
        json.dumps({"text": "   "}).encode(),
        b'{"text": "caf\xe9"}',
        b"",
        json.dumps({"text": "no id here"}).encode(),
        b"[1, 2]",
    ]
    p = tmp_path / "in.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    out = list(read_items(str(p)))
    assert isinstance(out[0], Item) and out[0].id == "m1" and out[0].meta == {"who": "me"}
    problems = {x.line: x.problem for x in out if isinstance(x, LineError)}
    assert "not JSON" in problems[2]
    assert "no 'text' field" in problems[3] and "m3" == next(x.id for x in out if getattr(x, "line", 0) == 3)
    assert "'text' must be a string, got int" in problems[4]
    assert "text is empty" in problems[5]
    assert "invalid UTF-8 at byte" in problems[6]
    assert "expected a JSON object, got list" in problems[9]
    good = [x for x in out if isinstance(x, Item)]
    assert [(g.id, g.line) for g in good] == [("m1", 1), ("8", 8)]
    assert len(out) == 8  # the blank line is no memory; every other line yields one result


def test_plain_text_lines_and_whole_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("first memory\n\nsecond memory\n")
    assert [(x.id, x.text) for x in read_items(str(p))] == [("1", "first memory"), ("3", "second memory")]
    whole = list(read_items(str(p), whole=True))
    assert len(whole) == 1 and whole[0].text == "first memory\n\nsecond memory\n"
