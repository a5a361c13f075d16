# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's pin: a path fixed by hand in the coordination table, which the monitors obey; pure, no AWS calls.

An operator who wants the traffic on one path while a monitor holds the lease does
not change the route tables (the monitor would put them back at its next
reconcile): they write the group's ``pin`` item (``path``, ``until`` or none =
until released, ``who``, ``why``, ``set_at``). The holder reads it with the rest of
the group and makes the routes follow the pin while it is in force; a pin whose
``until`` has passed is not in force, whether or not someone has deleted it yet.

* ``Pin``: the item as a value, from and to its DynamoDB form.
* ``active_pin(records_or_item, now)``: the pin in force at ``now`` (wall clock, epoch s), or None.
* ``effective_path(decided_path, pin)``: the path the routes follow, and why.
* ``pin_change(followed, records, now)``: what a monitor logs and notifies after a read of its group.
* ``requested_until(until, duration_s, now)`` and ``pin_problems(...)``: a requested pin's end, and
  what is wrong with the request, before anything is written.
* ``group_status(items, now)``: a group's items as the plain dict status reports show;
  ``live_holder(status)``: the monitor holding a live lease in it, or None.

Times are the writers' wall clocks, as for the lease: a pin ends within the clock
skew between the operator's machine and the monitor, which is fine for a pin meant
in minutes or hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from .. import events
from . import schema

PATHS = ("dx", "vpn")
# A reason goes into log lines, SNS messages and status reports: a sentence or two.
MAX_WHY_LENGTH = 256
MAX_WHO_LENGTH = 128

# Why the routes follow the path they follow (effective_path's second value).
REASON_DECIDED = "decided"
REASON_PINNED = "pinned"

# Why a followed pin ended (events.PIN_ENDED's reason).
REASON_EXPIRED = "expired"
REASON_RELEASED = "released"


@dataclass(frozen=True)
class Pin:
    """One operator pin: ``path`` (dx|vpn) until ``until`` (epoch s; None: until released), by ``who``, because ``why``."""

    path: str
    until: float | None
    who: str
    why: str
    set_at: float

    def in_force(self, now):
        """True while ``now`` (epoch s) is before ``until``; a pin without ``until`` stays until released."""
        return self.until is None or now < self.until

    def remaining_s(self, now):
        """Seconds left (never below 0), or None for a pin until released."""
        return None if self.until is None else max(0.0, self.until - now)

    def as_dict(self, now=None):
        """The pin as plain data (for results, logs and notifications); ``remaining_s`` when ``now`` is given."""
        data = {"path": self.path, "until": self.until, "who": self.who, "why": self.why, "set_at": self.set_at}
        if now is not None:
            data["remaining_s"] = self.remaining_s(now)
            data["in_force"] = self.in_force(now)
        return data

    def to_item(self, failover_group):
        """The pin's DynamoDB item in the low-level client's attribute-value form (PutItem's ``Item``)."""
        item = schema.key(failover_group, schema.PIN_RECORD)
        item.update({
            schema.PIN_PATH: {"S": self.path},
            schema.PIN_WHO: {"S": self.who},
            schema.PIN_WHY: {"S": self.why},
            schema.PIN_SET_AT: {"N": _number(self.set_at)},
        })
        if self.until is not None:
            item[schema.PIN_UNTIL] = {"N": _number(self.until)}
        return item

    @classmethod
    def from_item(cls, item):
        """The Pin of a pin item (attribute-value form or already plain values); None when it is not a usable pin."""
        if not item or _plain(item.get(schema.SORT_KEY)) not in (None, schema.PIN_RECORD):
            return None
        path = _plain(item.get(schema.PIN_PATH))
        if path not in PATHS:
            return None  # a damaged item never moves traffic
        until = _plain(item.get(schema.PIN_UNTIL))
        set_at = _plain(item.get(schema.PIN_SET_AT))
        return cls(path=path, until=None if until is None else float(until), who=str(_plain(item.get(schema.PIN_WHO)) or ""),
                   why=str(_plain(item.get(schema.PIN_WHY)) or ""), set_at=float(set_at) if set_at is not None else 0.0)


def active_pin(records_or_item, now):
    """The pin in force at ``now``, or None.

    ``records_or_item`` is a group's items (a Query's ``Items``, in any order) or the
    pin item alone; an expired, absent or damaged pin gives None.
    """
    pin = Pin.from_item(find_record(records_or_item, schema.PIN_RECORD)) if _is_list(records_or_item) else Pin.from_item(records_or_item)
    return pin if pin is not None and pin.in_force(now) else None


def effective_path(decided_path, pin):
    """``(path, reason)``: the path the routes must follow, given the monitor's decision and the pin in force.

    The pin wins while it is in force (pass ``active_pin(...)``, not a raw item):
    ``(pin.path, "pinned")``; otherwise ``(decided_path, "decided")``.
    """
    if pin is not None:
        return pin.path, REASON_PINNED
    return decided_path, REASON_DECIDED


def pin_change(followed, records, now):
    """``(pin in force, event or None, fields)``: what a monitor reports after reading its group's ``records``.

    ``followed`` is the pin it followed after its previous read (None: none). The event is
    ``events.PIN_IN_FORCE`` for a pin not followed before (a first one, or one that
    replaced another), ``events.PIN_ENDED`` with ``reason`` ``expired`` (its until has
    passed) or ``released`` (its item is gone or replaced by an ended one) when the
    followed pin no longer is in force, and None when nothing changed. Keep the
    returned pin as ``followed`` for the next read.
    """
    current = active_pin(records, now)
    if current is not None and current != followed:
        return current, events.PIN_IN_FORCE, _pin_fields(current)
    if current is None and followed is not None:
        stored = Pin.from_item(find_record(records, schema.PIN_RECORD)) if _is_list(records) else Pin.from_item(records)
        reason = REASON_EXPIRED if stored == followed else REASON_RELEASED
        return None, events.PIN_ENDED, dict(_pin_fields(followed), **{events.REASON: reason})
    return current, None, {}


def _pin_fields(pin):
    return {events.PATH: pin.path, events.PIN_UNTIL: pin.until, events.PIN_WHO: pin.who, events.PIN_WHY: pin.why}


def pin_problems(path, until, who, why, now):
    """Every problem of a requested pin (empty list: fine); ``until`` is epoch s or None (until released)."""
    problems = []
    if path not in PATHS:
        problems.append("path must be one of %s, got %r" % ("|".join(PATHS), path))
    if until is not None and not until > now:
        problems.append("until must be in the future, got %s (%.0f s ago)" % (until, now - until))
    problems.extend(_text_problems("who", who, MAX_WHO_LENGTH))
    problems.extend(_text_problems("why", why, MAX_WHY_LENGTH))
    return problems


def requested_until(until, duration_s, now):
    """``(until epoch s or None, problems)`` from a request's ``until`` (epoch s or ISO-8601) or ``duration_s``.

    Neither given: None, a pin until released. An ISO-8601 time without a zone is UTC.
    """
    if until not in (None, "") and duration_s is not None:
        return None, ["give until or duration_s, not both"]
    if duration_s is not None:
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or duration_s <= 0:
            return None, ["duration_s must be a positive number of seconds, got %r" % (duration_s,)]
        return float(now) + float(duration_s), []
    if until in (None, ""):
        return None, []
    return _parse_time(until)


def _parse_time(value):
    try:
        return float(value), []
    except (TypeError, ValueError):
        pass
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None, ["until must be epoch seconds or an ISO-8601 time (2026-12-04T18:00:00Z), got %r" % (value,)]
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp(), []


def group_status(items, now):
    """A group's items (a Query's ``Items``) as plain data: ``{"lease": ..., "pin": ..., "monitors": [...]}``.

    * ``lease``: ``holder``, ``fencing``, ``expires_in_s`` (negative once expired) and
      ``live`` (not yet expired at ``now``, in the reader's clock), or None when no monitor ever held it;
    * ``pin``: the pin in force (``Pin.as_dict(now)``), or None;
    * ``monitors``: each monitor's latest view, sorted by ``monitor_id``: ``monitor_id``,
      ``role``, ``dx_state``, ``desired_path`` and ``age_s`` (how old the view is).
    """
    pin = active_pin(items, now)
    return {
        "lease": lease_status(find_record(items, schema.LEASE_RECORD), now),
        "pin": None if pin is None else pin.as_dict(now),
        "monitors": sorted((monitor_view(item, now) for item in items if _is_monitor_record(item)), key=lambda view: view["monitor_id"]),
    }


def live_holder(status):
    """The monitor that holds a live lease, from ``group_status``'s dict: its view with ``fencing``, or None.

    A holder that has written no view yet has ``role``, ``dx_state`` and ``desired_path`` None.
    """
    lease = status.get("lease")
    if not lease or not lease["live"]:
        return None
    views = [view for view in status["monitors"] if view["monitor_id"] == lease["holder"]]
    view = views[0] if views else {"monitor_id": lease["holder"], "role": None, "dx_state": None, "desired_path": None, "age_s": None}
    return dict(view, fencing=lease["fencing"])


def lease_status(item, now):
    """The lease item as status data, or None when there is none."""
    if not item:
        return None
    expires_at = _float(item.get(schema.EXPIRES_AT))
    expires_in_s = None if expires_at is None else round(expires_at - now, 3)
    fencing = _plain(item.get(schema.FENCING))
    return {
        "holder": _plain(item.get(schema.HOLDER)),
        "fencing": None if fencing is None else int(float(fencing)),
        "expires_in_s": expires_in_s,
        "live": expires_in_s is not None and expires_in_s > 0,
    }


def monitor_view(item, now):
    """One monitor's view item as status data."""
    record = _plain(item.get(schema.SORT_KEY)) or ""
    updated_at = _float(item.get(schema.VIEW_UPDATED_AT))
    return {
        "monitor_id": _plain(item.get(schema.VIEW_MONITOR_ID)) or record[len(schema.MONITOR_RECORD_PREFIX):],
        "role": _plain(item.get(schema.VIEW_ROLE)),
        "dx_state": _plain(item.get(schema.VIEW_DX_STATE)),
        "desired_path": _plain(item.get(schema.VIEW_DESIRED_PATH)),
        "age_s": None if updated_at is None else round(now - updated_at, 3),
    }


def find_record(items, record):
    """The item of ``items`` whose sort key is ``record``, or None."""
    for item in items or ():
        if _plain(item.get(schema.SORT_KEY)) == record:
            return item
    return None


def _is_monitor_record(item):
    return str(_plain(item.get(schema.SORT_KEY)) or "").startswith(schema.MONITOR_RECORD_PREFIX)


def _is_list(value):
    return isinstance(value, (list, tuple))


def _text_problems(name, value, max_length):
    if not isinstance(value, str) or not value.strip():
        return ["%s must be a non-empty text" % name]
    if len(value) > max_length:
        return ["%s must be at most %d characters, got %d" % (name, max_length, len(value))]
    return []


def _plain(value):
    """A DynamoDB attribute value ({"S": "x"}, {"N": "1"}) as its plain value; plain values pass unchanged."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind in ("S", "N", "BOOL"):
            return inner
    return value


def _float(value):
    value = _plain(value)
    return None if value is None else float(value)


def _number(value):
    """A DynamoDB number's text that reads back as the same float (an end rounded up would outlast what was asked)."""
    return repr(float(value))
