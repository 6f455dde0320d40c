"""The deterministic fact extractor."""
from hypothesis import given
from hypothesis import strategies as st

from engine.codecs.facts import contains, extract_facts, extract_typed_facts, normalise


def test_extracts_numbers_dates_times_money_names():
    text = (
        "Met Priya Raman at the Lisbon office on 14 March 2026. She moved the launch from April 2 to April 16 "
        "because the vendor contract (EUR 48,000) is unsigned; sales grew 12% to $4.2 million. Call at 9:30 on "
        "Tuesday, mail priya@example.com or see https://example.com/plan. We need 3 engineers."
    )
    facts = extract_facts(text)
    for want in ["Priya Raman", "Lisbon", "14 March 2026", "April 2", "April 16", "EUR 48,000", "12%", "$4.2 million",
                 "9:30", "Tuesday", "priya@example.com", "https://example.com/plan", "3 engineers"]:
        assert want in facts, want
    assert "Met" not in " ".join(facts) and "She" not in facts


def test_kinds_and_sentence_openers():
    kinds = dict((v, k) for k, v in extract_typed_facts("[1:56 pm on 8 May, 2023]\nCaroline: Hey Mel! I saw Mel."))
    assert kinds["1:56 pm"] == "time" and kinds["8 May, 2023"] == "date" and kinds["Caroline"] == "name"
    assert "Hey" not in kinds


def test_contains_is_whole_word():
    norm = normalise("The answer is now 12.")
    assert contains(norm, "12") and contains(norm, "now") and not contains(norm, "no") and not contains(norm, "1")


@given(st.text(max_size=300))
def test_never_fails_and_every_fact_is_in_the_text(text):
    for fact in extract_facts(text):
        assert fact and fact in text
