# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numbers and times as the drill reads them from records and writes them into a report.

Records are messy: every reader here returns None rather than raising on a value it
cannot use.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone


def _number(value):
    """A finite float, or None. Numeric text counts (templated module arguments can arrive as text); booleans and NaN do not."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        value = float(value)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _count(value):
    """A non-negative int, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value):
    return value if isinstance(value, str) else None


def _ms(value):
    return None if value is None else round(value, 3)


def _rel(time, origin):
    return None if time is None or origin is None else round(time - origin, 3)


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _seconds(value):
    return "-" if value is None else "%.3f s" % value


def parse_utc_timestamp(text):
    """Epoch seconds of the monitor's ``ts`` (``2024-05-01T12:00:00.123Z``), or None."""
    if not isinstance(text, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def utc_text(epoch):
    """``2024-05-01 12:00:00.123 UTC`` for the report, or ``-``."""
    if epoch is None:
        return "-"
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return "%s.%03d UTC" % (moment.strftime("%Y-%m-%d %H:%M:%S"), moment.microsecond // 1000)
