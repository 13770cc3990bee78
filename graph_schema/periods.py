"""What a period is: ``YYYY-MM`` or ``YYYY-MM-DD``, a real calendar day, a year from 1900 to
2200 (``0000-01`` or ``9999-12`` is a typo, and month arithmetic such as explain's year-on-year
base must stay within four-digit years). One set of patterns for values files, query
parameters and analysis.
"""

from __future__ import annotations

import datetime as dt
import re

YEAR_PATTERN = r"(19[0-9]{2}|2[01][0-9]{2}|2200)"
#: ``YYYY-MM`` or ``YYYY-MM-DD`` (the day is checked against the calendar separately)
PERIOD_PATTERN = rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$"
#: a month, ``YYYY-MM``
MONTH_PATTERN = rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


def is_period(text: str) -> bool:
    """A month or a day that exists, in the years 1900–2200.

    Examples
    --------
    >>> [is_period(p) for p in ("2024-02", "2024-02-29", "2023-02-29", "2024-02-31", "0000-01")]
    [True, True, False, False, False]
    """
    if not _PERIOD.match(text):
        return False
    if len(text) == 10:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return False
    return True
