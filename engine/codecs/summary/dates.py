"""Relative dates resolved against the memory's own date: "yesterday" in a session of 8 May 2023 is 7 May 2023.

A summary written weeks later cannot say "yesterday"; the model, reading "yesterday (7 May 2023)",
copies the date instead, and the fact layer keeps it. The phrasing follows how people answer "when"
questions about a dated conversation: a day ("7 May 2023"), "the week before 8 May 2023", a month
("April 2023"), a year ("2022").
"""
from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MON = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ANCHORS = [
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MON}\.?,?\s+(\d{{4}})\b", re.I),  # 8 May, 2023
    re.compile(rf"\b{_MON}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I),  # May 8, 2023
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),  # 2023-05-08
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "couple of": 2, "few": 3}
_RELATIVE = re.compile(
    r"\b(?:(yesterday|today|tonight|tomorrow|last night|this morning|this afternoon|this evening)"
    r"|(last|next|this|past|coming) (week|weekend|month|year|" + "|".join(_DAYS) + r")"
    r"|(\d+|a|an|one|two|three|four|five|six|a couple of|a few) (days?|weeks?|months?|years?|weekends?) ago)\b",
    re.I,
)


def _month_name(d: date) -> str:
    return _MONTHS[d.month - 1].capitalize()


def fmt(d: date) -> str:
    return f"{d.day} {_month_name(d)} {d.year}"


def anchor_date(text: str, meta: dict | None = None) -> date | None:
    """The memory's date: its first written date (a session's opening line), else a date in its metadata."""
    for source in [text[:200]] + [str(v) for v in (meta or {}).values() if isinstance(v, str)]:
        for i, pat in enumerate(_ANCHORS):
            m = pat.search(source)
            if not m:
                continue
            try:
                if i == 0:
                    return date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
                if i == 1:
                    return date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
    return None


def _month(name: str) -> int:
    return next(i + 1 for i, full in enumerate(_MONTHS) if full.startswith(name.lower()[:3]))


def _shift_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def resolve(phrase: str, on: date) -> str | None:
    """The absolute form of one relative phrase said on the given day, or None."""
    p = phrase.lower()
    day = {"yesterday": -1, "last night": -1, "today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0,
           "this evening": 0, "tomorrow": 1}.get(p)
    if day is not None:
        return fmt(on + timedelta(days=day))
    m = re.fullmatch(r"(last|next|this|past|coming) (\w+)", p)
    if m:
        which, unit = m.groups()
        step = {"last": -1, "past": -1, "this": 0, "next": 1, "coming": 1}[which]
        if unit in ("week", "weekend"):
            return f"the {unit} {({-1: 'before', 0: 'of', 1: 'after'})[step]} {fmt(on)}"
        if unit == "month":
            d = _shift_months(on, step)
            return f"{_month_name(d)} {d.year}"
        if unit == "year":
            return str(on.year + step)
        if unit in _DAYS:  # "this Friday" in a chat is mostly the one just past
            return f"the {unit.capitalize()} {'after' if step > 0 else 'before'} {fmt(on)}"
    m = re.fullmatch(r"(\w+(?: of)?) (day|week|month|year|weekend)s? ago", p)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS.get(m.group(1))
        if n is None:
            return None
        unit = m.group(2)
        if unit == "day":
            return fmt(on - timedelta(days=n))
        if unit in ("week", "weekend"):
            return f"{'the ' + unit if n == 1 else f'{n} {unit}s'} before {fmt(on)}"
        if unit == "month":
            d = _shift_months(on, -n)
            return f"{_month_name(d)} {d.year}"
        return str(on.year - n)
    return None


def annotate(text: str, meta: dict | None = None) -> tuple[str, list[str]]:
    """text with each relative date followed by its absolute form in parentheses, and those forms in order."""
    on = anchor_date(text, meta)
    if on is None:
        return text, []
    found: list[str] = []

    def sub(m: re.Match) -> str:
        absolute = resolve(m.group(0), on)
        if absolute is None:
            return m.group(0)
        found.append(absolute)
        return f"{m.group(0)} ({absolute})"

    return _RELATIVE.sub(sub, text), found
