"""Relative dates resolve against the memory's own date, in the phrasing people use to answer "when"."""
from datetime import date

import pytest

from engine.codecs.summary.dates import anchor_date, annotate, resolve

ON = date(2023, 5, 8)


@pytest.mark.parametrize("phrase, absolute", [
    ("yesterday", "7 May 2023"), ("last night", "7 May 2023"), ("tomorrow", "9 May 2023"), ("today", "8 May 2023"),
    ("last week", "the week before 8 May 2023"), ("next weekend", "the weekend after 8 May 2023"),
    ("this week", "the week of 8 May 2023"), ("last month", "April 2023"), ("next month", "June 2023"),
    ("last year", "2022"), ("next year", "2024"), ("last Sunday", "the Sunday before 8 May 2023"),
    ("next Friday", "the Friday after 8 May 2023"), ("3 days ago", "5 May 2023"), ("two weeks ago", "2 weeks before 8 May 2023"),
    ("a month ago", "April 2023"), ("4 years ago", "2019"), ("the other day", None),
])
def test_resolve(phrase, absolute):
    assert resolve(phrase, ON) == absolute


def test_month_arithmetic_crosses_years():
    assert resolve("last month", date(2023, 1, 15)) == "December 2022"
    assert resolve("next month", date(2023, 12, 1)) == "January 2024"


def test_anchor_from_the_session_line_or_metadata():
    assert anchor_date("[1:56 pm on 8 May, 2023]\nAnn: hi") == ON
    assert anchor_date("Ann: hi", {"date_time": "10:04 am on May 8, 2023"}) == ON
    assert anchor_date("no date here") is None


def test_annotate_keeps_the_words_and_adds_the_date():
    text, found = annotate("[8 May, 2023]\nAnn: I went to the support group yesterday.")
    assert text.endswith("yesterday (7 May 2023).") and found == ["7 May 2023"]
    assert annotate("Ann: yesterday was fun.") == ("Ann: yesterday was fun.", [])
