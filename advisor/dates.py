"""Calendar arithmetic the rules share, and the one "today" of the whole app.

Every date the app compares with today (deadlines, passport validity, ages, planned dates) uses `today()`:
the UTC date, whatever the server's time zone, so two parts of the app never disagree about the day around
midnight. Callers use `dates.today()` (not `from .dates import today`) so a test can freeze it.
"""
from __future__ import annotations

import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it has none (31 Aug + 6 → 28/29 Feb).

    A result before year 1 or after year 9999 is the calendar's first or last day: a date typed at the end of
    the calendar (9999-12-31 is a valid form value) must compare, not crash the page that checks it.
    """
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def today() -> dt.date:
    """Today's date in UTC."""
    return dt.datetime.now(dt.UTC).date()
