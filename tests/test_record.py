"""Record format: round trip, compactness, rejection of bad records, render."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.codecs.record import Record, render
from engine.errors import InputError

facts = st.lists(st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and "; " not in s and ";" not in s
                                                      and s == s.strip()), max_size=5)


@given(st.text(max_size=50), st.text(max_size=200), facts, st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
def test_round_trip(ident, summary, fs, meta):
    rec = Record(ident, "llm", summary=summary, facts=fs, meta=meta, quality=0.8712, flagged=True)
    back = Record.from_json(rec.to_json())
    assert (back.id, back.kind, back.summary, back.facts, back.meta, back.flagged) == (ident, "llm", summary, fs, meta, True)
    assert back.quality == 0.87


def test_raw_and_error_records_and_bytes():
    raw = Record("a", "raw", text="short note")
    line = raw.to_json()
    assert json.loads(line) == {"v": 1, "id": "a", "k": "r", "t": "short note"}
    assert raw.stored_bytes == len(line.encode()) + 1
    assert render(Record.from_json(line)) == "short note"
    err = Record("7", "error", error="line 7: not JSON", line=7)
    assert Record.from_json(err.to_json()).error == "line 7: not JSON"


def test_render_is_summary_then_facts():
    rec = Record("1", "llm", summary="Tom meets Ann.", facts=["Friday 10:30", "Leeds"])
    assert render(rec) == "Tom meets Ann.\nFriday 10:30\nLeeds"


@pytest.mark.parametrize("line, msg", [
    ("nope", "not JSON"), ("[1]", "JSON object"), ('{"v":3,"k":"l"}', "version 3"), ('{"id":"a","x":1}', "one coded field"), ('{"id":"a","z1":"\\\\"}', "not a coded payload"), ('{"v":2,"k":"l"}', "kind"),
    ('{"v":2,"k":"z","c":1}', "payload"), ('{"v":2,"k":"z","c":1,"b":"~~~~~"}', "base85"), ('{"v":1,"k":"z"}', "kind"),
    ('{"v":1,"k":"r"}', "raw record without"), ('{"v":1,"k":"l","s":3}', "must be strings"),
])
def test_bad_records_name_the_problem(line, msg):
    with pytest.raises(InputError, match=msg):
        Record.from_json(line, where="line 3")
