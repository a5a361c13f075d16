# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease: which monitor of a failover group may change the route tables; pure rules, no AWS calls.

The lease item of a group (``schema.LEASE_RECORD``) names one holder. Only the holder
calls a mutating EC2 API; every other monitor of the group (a standby) keeps probing and
reading the tables, ready to take over.

Taking and keeping it
---------------------
* A monitor may take the lease when the item is absent, when it expired in the reader's
  own wall clock (``expires_at < now``), or when it already holds it (``may_acquire``).
* The write is conditional on what was read (``aws.coordination.acquire_or_renew``), so of
  two monitors racing for the same expired lease exactly one wins.
* ``fencing`` grows by one with every new holder and stays the same on a renewal
  (``next_fencing``): a holder's number is larger than every earlier holder's.
* ``expires_at`` is the holder's wall time when it sent the write plus ``lease_s``. A
  release sets it to the releaser's ``now``, so a standby takes the lease at its next read.

When the holder stops writing
-----------------------------
The holder measures its own validity on its MONOTONIC clock, from the moment BEFORE the
successful write was sent (``sent_at``)::

    writer_until = sent_at + lease_s - max_clock_skew_s - call_margin_s

and starts no mutating call at or after ``writer_until`` (``call_margin_s`` is the time a
route call already sent may take to land; the daemon uses ``api.connect_timeout_s``).
Nothing is extended by a write whose answer did not arrive: a timeout counts as a loss.

Why two holders never overlap. Assumption: the wall clocks of the monitors of a group
differ by at most ``max_clock_skew_s`` at any moment (NTP / the Amazon Time Sync Service),
and every clock, wall and monotonic, runs at the rate of real time over one lease (drift
over a few seconds is far below the skew). Let ``t0`` be the real time the holder read its
monotonic clock before sending; its wall clock at send was at least its wall time at
``t0``, so ``expires_at >= W_h(t0) + lease_s``. A standby takes over only at a real time
``T`` at which its wall clock shows ``W_s(T) > expires_at``; since ``W_h(T) >= W_s(T) -
max_clock_skew_s``, that is ``T - t0 > lease_s - max_clock_skew_s``. The holder starts its
last call before ``t0 + lease_s - max_clock_skew_s - call_margin_s``, and that call has
landed ``call_margin_s`` later at most: before ``T``. A renewal that arrives after another
monitor took the lease fails its condition (the fencing changed), so the old holder
never sees an extension it does not have.

Worst-case takeover, when the holder dies right after a renewal: the standby sees the
lease expire ``lease_s`` after it (plus up to ``max_clock_skew_s``), and reads every
``renew_interval_s``: ``lease_s + renew_interval_s`` (+ skew) after the last renewal.

Settings rules (``settings_problems``): ``renew_interval_s <= lease_s / 3`` (a holder can
miss two renewals in a row and still hold), and ``lease_s > max_clock_skew_s +
call_margin_s + renew_interval_s`` (after each renewal the holder stays the writer until
the next one, so a healthy holder never stops writing).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import schema

FIRST_FENCING = 1
ROLE_HOLDER = "holder"
ROLE_STANDBY = "standby"


@dataclass(frozen=True)
class LeaseRecord:
    """The lease item of one group, as read (times in the holder's wall clock, epoch seconds)."""

    holder: str
    fencing: int
    expires_at: float
    renewed_at: float = None
    lease_s: float = None

    @classmethod
    def from_item(cls, item):
        """The record of a DynamoDB item in the low-level client's attribute-value form; None for no item."""
        if not item or schema.HOLDER not in item:
            return None
        return cls(
            holder=_string(item, schema.HOLDER),
            fencing=int(_number(item, schema.FENCING) or 0),
            expires_at=_number(item, schema.EXPIRES_AT) or 0.0,
            renewed_at=_number(item, schema.RENEWED_AT),
            lease_s=_number(item, schema.LEASE_S),
        )

    def expired(self, now):
        """Expired in the clock of the reader, whose wall time is ``now``."""
        return self.expires_at < now

    def as_dict(self):
        return {"holder": self.holder, "fencing": self.fencing, "expires_at": self.expires_at}


def _string(item, name):
    value = item.get(name)
    return None if value is None else value.get("S")


def _number(item, name):
    value = item.get(name)
    if value is None or "N" not in value:
        return None
    number = float(value["N"])
    return int(number) if number.is_integer() else number


def lease_of(items):
    """The lease record among the items of one group (a Query's answer); None when there is none."""
    for item in items:
        if _string(item, schema.SORT_KEY) == schema.LEASE_RECORD:
            return LeaseRecord.from_item(item)
    return None


def may_acquire(record, monitor_id, now):
    """True when ``monitor_id`` may write the lease: absent, expired in the reader's clock, or already its own."""
    return record is None or record.holder == monitor_id or record.expired(now)


def next_fencing(record, monitor_id):
    """The fencing number after ``monitor_id`` writes the lease: the same on a renewal, one more for a new holder."""
    if record is None:
        return FIRST_FENCING
    if record.holder == monitor_id:
        return record.fencing
    return record.fencing + 1


def writer_until(sent_at, lease_s, max_clock_skew_s, call_margin_s):
    """The monotonic moment from which the holder starts no mutating call (see the module docstring).

    ``sent_at`` is the holder's monotonic clock read BEFORE it sent the write that succeeded.
    """
    return sent_at + lease_s - max_clock_skew_s - call_margin_s


# A monitor whose EC2 calls have failed without a break for this many lease durations
# neither takes nor keeps the lease: a holder cut off from EC2 but not from the table
# would otherwise keep it, and nobody would move the routes.
EC2_UNREACHABLE_LEASES = 2


def may_hold(ec2_failing_for_s, lease_s):
    """True unless this monitor's EC2 calls have failed without a break for ``EC2_UNREACHABLE_LEASES`` x ``lease_s``.

    ``ec2_failing_for_s`` is None while its latest EC2 attempt succeeded. When EC2 fails
    for every monitor, none holds the lease, which changes nothing: none could write.
    """
    return ec2_failing_for_s is None or ec2_failing_for_s < EC2_UNREACHABLE_LEASES * lease_s


def worst_case_takeover_s(lease_s, renew_interval_s, max_clock_skew_s):
    """Seconds from a dead holder's last renewal until a standby holds the lease, at most (before detection)."""
    return lease_s + renew_interval_s + max_clock_skew_s


def settings_problems(lease_s, renew_interval_s, max_clock_skew_s, call_margin_s, prefix="coordination."):
    """What is wrong with how the lease settings relate to each other (empty when nothing is).

    Values that are None (already reported as bad values) are not compared. ``call_margin_s``
    comes from ``api.connect_timeout_s``.
    """
    problems = []
    if None in (lease_s, renew_interval_s, max_clock_skew_s, call_margin_s):
        return problems
    if renew_interval_s > lease_s / 3.0:
        problems.append(
            "%srenew_interval_s: must be <= a third of %slease_s (%g s), so a holder may miss two renewals and still "
            "hold the lease, got %g s" % (prefix, prefix, lease_s / 3.0, renew_interval_s)
        )
    needed = max_clock_skew_s + call_margin_s + renew_interval_s
    if lease_s <= needed:
        problems.append(
            "%slease_s: must be larger than %smax_clock_skew_s + api.connect_timeout_s + %srenew_interval_s (%g s), "
            "or the holder would stop writing before its next renewal, got %g s" % (prefix, prefix, prefix, needed, lease_s)
        )
    return problems
