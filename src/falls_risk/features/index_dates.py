"""Parse ``--index-dates``: ``START:END:monthly``, ``START:END:quarterly`` or ``D1,D2,...``."""

from __future__ import annotations

from datetime import date

from falls_risk.errors import FallsRiskError

_STEPS = {"monthly": 1, "quarterly": 3}
_FORMS = "START:END:monthly, START:END:quarterly (dates YYYY-MM-DD) or a list D1,D2,..."


def _error(text: str, why: str) -> FallsRiskError:
    return FallsRiskError(f"Invalid --index-dates {text!r}: {why}. Expected {_FORMS}.")


def _date(part: str, text: str) -> date:
    try:
        return date.fromisoformat(part.strip())
    except ValueError:
        raise _error(text, f"{part.strip()!r} is not a date YYYY-MM-DD") from None


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, day.day)


def parse_index_dates(text: str) -> list[date]:
    """Index dates in ascending order, without repeats."""
    text = (text or "").strip()
    if not text:
        raise _error(text, "it is empty")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise _error(text, "a range has three parts separated by ':'")
        start, end, step = _date(parts[0], text), _date(parts[1], text), parts[2].strip().lower()
        if step not in _STEPS:
            raise _error(text, f"the step must be monthly or quarterly, not {parts[2].strip()!r}")
        if end < start:
            raise _error(text, f"the end {end} is before the start {start}")
        if start.day > 28:
            raise _error(text, "a range must start on day 1-28 so every month has that day")
        dates, k = [], 0
        while (d := add_months(start, k * _STEPS[step])) <= end:
            dates.append(d)
            k += 1
        return dates
    return sorted({_date(part, text) for part in text.split(",") if part.strip()})
