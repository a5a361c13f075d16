# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/lab_pair.py: its schedule, the holder of each moment, and the evidence it judges."""

from __future__ import annotations

from benchmarks import lab_pair as bench

A = "LZLABLZFAILOVERUTILITY"
B = "LZLABLZFAILOVERUTILITY2"


def transition(to_path):
    return {"event": "transition", "from_path": "vpn" if to_path == "dx" else "dx", "to_path": to_path}


def test_the_schedule_is_seeded_and_keeps_outages_and_up_times_in_their_ranges():
    schedule = bench.dx_flap_schedule(14, 600, down_s=(2.0, 20.0), up_s=(5.0, 60.0))
    assert schedule == bench.dx_flap_schedule(14, 600, down_s=(2.0, 20.0), up_s=(5.0, 60.0))
    assert schedule != bench.dx_flap_schedule(15, 600, down_s=(2.0, 20.0), up_s=(5.0, 60.0))
    outages = [repair - cut for cut, repair in schedule[:-1]]  # the last may be cut short at the end
    up_times = [cut - repair for (_cut, repair), (cut, _repair) in zip(schedule, schedule[1:])]
    assert all(2.0 - 1e-3 <= outage <= 20.0 + 1e-3 for outage in outages)
    assert all(5.0 - 1e-3 <= up <= 60.0 + 1e-3 for up in up_times)
    assert schedule[0][0] == 5.0 and schedule[-1][1] <= 600


def test_the_holder_of_a_moment_is_the_last_term_begun_before_it():
    terms = bench.holder_terms(A, [(50.0, B), (5.0, A)], origin=10.0)  # an acquisition before the run is not a term
    assert terms == [(10.0, A), (50.0, B)]
    assert [bench.holder_at(terms, moment) for moment in (9.0, 10.0, 49.9, 50.0, 99.0)] == [None, A, A, B, B]
    assert bench.holder_terms(None, [], origin=10.0) == []


def test_only_the_holders_transitions_are_what_the_routes_must_follow():
    terms = [(0.0, A), (30.0, B)]
    transitions = {A: [(10.0, transition("vpn")), (35.0, transition("dx"))], B: [(10.2, transition("vpn")), (35.1, transition("dx"))]}
    assert bench.holder_transitions(transitions, terms, origin=0.0) == [(10.0, "vpn"), (35.1, "dx")]


def test_lease_writes_count_the_callers_update_items_by_answer():
    records = [
        {"service": "dynamodb", "action": "UpdateItem", "access_key_id": A, "status": 200},
        {"service": "dynamodb", "action": "UpdateItem", "access_key_id": B, "status": 400},
        {"service": "dynamodb", "action": "PutItem", "access_key_id": B, "status": 200},
        {"service": "ec2", "action": "CreateRoute", "access_key_id": A, "status": 200},
    ]
    assert bench.lease_writes(records, A) == {"accepted": 1, "refused": 0}
    assert bench.lease_writes(records, B) == {"accepted": 0, "refused": 1}


def evidence(**changes):
    result = {
        "overlapping_writers": [], "terms": [{"not_the_holder": [], "overlapping_writers": []}], "lease_acquisitions": [],
        "monitors_compared": {"within_tolerance": True}, "routes_vs_holder": {"within_tolerance": True}, "settled_s": 12.0,
    }
    result.update(changes)
    return result


def test_the_verdict_passes_one_writer_with_matching_transitions_and_names_each_failure():
    assert all(bench.verdict(evidence()).values())
    failed = bench.verdict(evidence(terms=[{"not_the_holder": [{"action": "CreateRoute"}], "overlapping_writers": []}],
                                    monitors_compared={"within_tolerance": False}, settled_s=None))
    assert [check for check, passed in failed.items() if not passed] == [
        "every route call by the lease holder", "both monitors made the same transitions", "back on DX at the end"]
