# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the request log (request_log.py): did two callers ever write at the same time?

Monitors of one failover group sign with different access keys and only the
lease holder may change routes.  ``overlapping_writers(records,
mutating_actions)`` takes the log's records (dicts with ``start``, ``end``,
``access_key_id``, ``service``, ``action``; the order does not matter) and
returns every breach of "one writer at a time" among the requests of
``service`` (``ec2`` by default) whose ``action`` is in ``mutating_actions``
(``ROUTE_MUTATIONS`` for the route calls), as ``WriterConflict(kind, earlier,
later)``, ``earlier`` starting first (ties: the order of ``records``):

* ``overlap``: two requests of different callers whose ``[start, end]``
  intervals share a moment (closed intervals: one ending at the very instant
  the other starts is an overlap);
* ``interleave``: taking the requests in order of ``start``, the first request
  of caller B after one of caller A is a holder change from A to B; the first
  request of A after that one is an interleave (``earlier`` is B's request that
  took over, ``later`` A's late one; A writing again is itself a holder change,
  from B to A).  So: after caller B makes its first mutating call, caller A
  makes none.

Every request counts, whatever its answer: a request the endpoint refused (a
fault rule, a throttle, a duplicate route) was still sent by a caller that
believed it could write.  A caller that legitimately becomes the holder again
(A, then B, then A after a second takeover) is reported as an interleave too:
a test with such a handback checks the records of each holder's term on
their own.  Requests without a caller (unsigned) count as one caller, None.
The result is empty when there was one writer at a time.
"""

from __future__ import annotations

from collections import namedtuple

# The EC2 calls with which the monitor changes a route table (the same as throttling.ROUTE_MUTATIONS;
# not imported, so this module stays free of moto and reads a log fetched from any endpoint).
ROUTE_MUTATIONS = frozenset(("CreateRoute", "ReplaceRoute", "DeleteRoute"))

WriterConflict = namedtuple("WriterConflict", "kind earlier later")


def _mutating_requests_by_start(records, mutating_actions, service):
    chosen = [record for record in records if record.get("service") == service and record.get("action") in mutating_actions]
    return sorted(chosen, key=lambda record: record["start"])  # stable: ties keep the order of the log


def _overlaps(requests):
    conflicts = []
    for index, earlier in enumerate(requests):
        for later in requests[index + 1:]:
            if later["start"] > earlier["end"]:
                break  # sorted by start: no later request can reach back into this one
            if later.get("access_key_id") != earlier.get("access_key_id"):
                conflicts.append(WriterConflict("overlap", earlier, later))
    return conflicts


def _interleaves(requests):
    conflicts = []
    superseded_by = {}  # caller -> the request of the caller that took over from it
    previous_caller = None
    for index, request in enumerate(requests):
        caller = request.get("access_key_id")
        if caller in superseded_by:
            conflicts.append(WriterConflict("interleave", superseded_by.pop(caller), request))
        if index > 0 and caller != previous_caller:
            superseded_by[previous_caller] = request
        previous_caller = caller
    return conflicts


def overlapping_writers(records, mutating_actions=ROUTE_MUTATIONS, service="ec2"):
    """Every overlap and interleave of different callers' mutating requests (see the module docstring); [] when none."""
    requests = _mutating_requests_by_start(records, frozenset(mutating_actions), service)
    return _overlaps(requests) + _interleaves(requests)
