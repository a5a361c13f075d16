# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""overlapping_writers (tools/endpoint/writers.py): two callers' route changes at once, or after a holder change."""

from __future__ import annotations

import pytest

from tools.endpoint.writers import ROUTE_MUTATIONS
from tools.endpoint.writers import overlapping_writers


def call(caller, start, end, action="CreateRoute", service="ec2"):
    return {"access_key_id": caller, "start": start, "end": end, "action": action, "service": service, "status": 200}


def kinds_and_callers(conflicts):
    return [(conflict.kind, conflict.earlier["access_key_id"], conflict.later["access_key_id"]) for conflict in conflicts]


def test_one_writer_then_a_clean_handover_is_no_conflict():
    records = [call("A", 1.0, 1.1), call("A", 1.2, 1.3, "DeleteRoute"), call("B", 5.0, 5.1), call("B", 5.2, 5.3, "ReplaceRoute")]
    assert overlapping_writers(records, ROUTE_MUTATIONS) == []


def test_the_order_of_the_records_does_not_matter():
    records = [call("B", 5.0, 5.1), call("A", 1.0, 1.1), call("B", 6.0, 6.1), call("A", 1.2, 1.3)]
    assert overlapping_writers(records, ROUTE_MUTATIONS) == []


@pytest.mark.parametrize("b_interval", [(1.05, 1.2), (0.5, 1.05), (0.5, 2.0), (1.02, 1.08), (1.1, 1.3)])
def test_intervals_of_two_callers_that_share_a_moment_overlap(b_interval):
    records = [call("A", 1.0, 1.1), call("B", *b_interval)]
    assert "overlap" in [conflict.kind for conflict in overlapping_writers(records, ROUTE_MUTATIONS)]


def test_a_request_ending_as_the_other_starts_overlaps_and_the_earlier_comes_first():
    first, second = call("A", 1.0, 1.1), call("B", 1.1, 1.2)
    assert overlapping_writers([second, first], ROUTE_MUTATIONS) == [("overlap", first, second)]


def test_one_callers_own_concurrent_requests_are_not_a_conflict():
    records = [call("A", 1.0, 2.0), call("A", 1.5, 2.5), call("A", 1.6, 1.7, "DeleteRoute")]
    assert overlapping_writers(records, ROUTE_MUTATIONS) == []


def test_a_request_of_the_old_holder_after_the_new_holders_first_is_an_interleave():
    takeover, late = call("B", 2.0, 2.1), call("A", 3.0, 3.1)
    records = [call("A", 1.0, 1.1), takeover, late, call("B", 4.0, 4.1)]
    conflicts = overlapping_writers(records, ROUTE_MUTATIONS)
    assert conflicts[0] == ("interleave", takeover, late)
    # A writing again took over from B, so B's next request is the second interleave.
    assert kinds_and_callers(conflicts) == [("interleave", "B", "A"), ("interleave", "A", "B")]


def test_an_interleave_through_a_third_caller_is_found():
    records = [call("A", 1.0, 1.1), call("B", 2.0, 2.1), call("C", 3.0, 3.1), call("A", 4.0, 4.1)]
    assert kinds_and_callers(overlapping_writers(records, ROUTE_MUTATIONS)) == [("interleave", "B", "A")]


def test_failed_requests_count_too():
    records = [call("A", 1.0, 1.1), call("B", 2.0, 2.1), dict(call("A", 3.0, 3.1), status=503)]
    assert kinds_and_callers(overlapping_writers(records, ROUTE_MUTATIONS)) == [("interleave", "B", "A")]


def test_reads_other_services_and_unlisted_actions_are_ignored():
    records = [
        call("A", 1.0, 3.0),
        call("B", 1.5, 1.6, "DescribeRouteTables"),
        call("B", 1.5, 1.6, "UpdateItem", service="dynamodb"),
        call("B", 1.5, 1.6, "CreateRoute", service="ec2-other"),
    ]
    assert overlapping_writers(records, ROUTE_MUTATIONS) == []
    assert kinds_and_callers(overlapping_writers(records, {"CreateRoute", "DescribeRouteTables"})) == [("overlap", "A", "B")]
    assert kinds_and_callers(overlapping_writers(records, {"UpdateItem"}, service="dynamodb")) == []


def test_unsigned_requests_are_one_caller_of_their_own():
    records = [call(None, 1.0, 1.1), call("A", 1.05, 1.2)]
    assert kinds_and_callers(overlapping_writers(records, ROUTE_MUTATIONS)) == [("overlap", None, "A")]


def test_no_records_no_conflict():
    assert overlapping_writers([], ROUTE_MUTATIONS) == []
