# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/monitor_pair.py: its schedule, and how it reads the request log (path changes, holder terms, comparison)."""

from __future__ import annotations

import pytest

from benchmarks import monitor_pair as bench

A = "AKIAA"
B = "AKIAB"


def call(start, action, caller=A, status=200, end=None):
    return {"start": start, "end": start + 0.01 if end is None else end, "service": "ec2", "action": action, "access_key_id": caller, "status": status}


# --------------------------------------------------------------------------- the schedule


def test_the_schedule_is_the_same_for_one_seed_and_differs_for_another():
    assert bench.flap_schedule(7, 600) == bench.flap_schedule(7, 600)
    assert bench.flap_schedule(7, 600) != bench.flap_schedule(8, 600)


def test_the_schedule_has_blips_below_detection_long_outages_and_up_times_either_side_of_the_hold():
    schedule = bench.flap_schedule(14, 600, detection_s=0.5, hold_s=10.0)
    outages = [restore - cut for cut, restore in schedule]
    up_times = [cut - restore for (_cut, restore), (cut, _restore) in zip(schedule, schedule[1:])]
    assert any(outage < 0.5 / 2 + 1e-9 for outage in outages)
    assert any(outage >= 10.0 for outage in outages)
    assert any(up < 10.0 for up in up_times) and any(up > 10.0 for up in up_times)
    assert all(restore > cut for cut, restore in schedule)
    assert all(later[0] > earlier[1] for earlier, later in zip(schedule, schedule[1:]))
    assert schedule[-1][1] <= 600


def test_a_prefix_keeps_the_outages_that_began_and_cuts_the_last_one_short():
    schedule = [(2.0, 3.0), (10.0, 25.0), (40.0, 41.0)]
    assert bench.schedule_prefix(schedule, 20.0) == [(2.0, 3.0), (10.0, 20.0)]
    assert bench.schedule_prefix(schedule, 100.0) == schedule


# --------------------------------------------------------------------------- the request log


def test_path_changes_count_a_converging_run_of_calls_once_and_skip_refused_calls():
    calls = [
        call(1.0, "CreateRoute"), call(1.1, "CreateRoute"),
        call(5.0, "DeleteRoute", status=503), call(5.5, "DeleteRoute"), call(5.6, "DeleteRoute"),
        call(9.0, "ReplaceRoute", caller=B),
    ]
    assert bench.path_changes(calls) == [(1.0, "vpn", A), (5.5, "dx", A), (9.0, "vpn", B)]


def test_mutating_calls_leave_out_reads_and_other_callers():
    records = [call(2.0, "CreateRoute"), call(1.0, "DescribeRouteTables"), call(1.5, "DeleteRoute", caller=B),
               dict(call(0.5, "UpdateItem"), service="dynamodb")]
    assert [entry["start"] for entry in bench.mutating_calls(records)] == [1.5, 2.0]
    assert [entry["start"] for entry in bench.mutating_calls(records, A)] == [2.0]


def test_each_term_is_checked_on_its_own_so_a_handback_is_not_a_breach():
    terms = bench.holder_terms([(10.0, B), (0.0, A), (20.0, A)])
    calls = [call(1.0, "CreateRoute"), call(11.0, "DeleteRoute", caller=B), call(21.0, "CreateRoute")]
    breaches = bench.term_breaches(calls, terms)
    assert [(term["holder"], term["calls"]) for term in breaches] == [(A, 1), (B, 1), (A, 1)]
    assert all(term["overlapping_writers"] == [] and term["not_the_holder"] == [] for term in breaches)


def test_a_call_by_another_caller_within_a_term_is_reported():
    breaches = bench.term_breaches([call(1.0, "CreateRoute"), call(1.005, "CreateRoute", caller=B)], [(0.0, A)])
    assert len(breaches) == 1
    assert [entry["access_key_id"] for entry in breaches[0]["not_the_holder"]] == [B]
    assert [conflict["kind"] for conflict in breaches[0]["overlapping_writers"]] == ["overlap"]


def test_calls_before_the_first_term_have_no_holder():
    breaches = bench.term_breaches([call(1.0, "CreateRoute")], [(5.0, A)])
    assert breaches[0]["holder"] is None and breaches[0]["calls"] == 1
    assert len(breaches[0]["not_the_holder"]) == 1


# --------------------------------------------------------------------------- pair against single


def test_equal_sequences_within_the_tolerance_match():
    result = bench.compare_changes([(10.0, "vpn"), (30.0, "dx")], [(10.4, "vpn"), (29.5, "dx")], tolerance_s=1.0)
    assert result["same_order"] and result["within_tolerance"]
    assert result["max_offset_diff_s"] == pytest.approx(0.5)


def test_a_late_change_an_extra_change_and_another_order_are_told_apart():
    late = bench.compare_changes([(10.0, "vpn")], [(12.0, "vpn")], tolerance_s=1.0)
    assert late["same_order"] and not late["within_tolerance"] and late["mismatches"][0]["index"] == 0
    extra = bench.compare_changes([(10.0, "vpn")], [(10.0, "vpn"), (30.0, "dx")], tolerance_s=1.0)
    assert extra["counts"] == [1, 2] and not extra["same_order"] and not extra["within_tolerance"]
    swapped = bench.compare_changes([(10.0, "vpn"), (20.0, "dx")], [(10.0, "dx"), (20.0, "vpn")], tolerance_s=1.0)
    assert not swapped["same_order"] and len(swapped["mismatches"]) == 2


# --------------------------------------------------------------------------- the table


def test_the_table_reads_the_scenarios_of_the_json():
    trial = {"new_fencing": [2], "overlapping_writers": [], "writes_by_expected_writer_only": True}
    summary = {"n": 1, "missed": 0, "median": 7.5, "max": 7.5}
    scenarios = {
        "takeover": {"killed": [trial], "alive": [dict(trial, new_fencing=[])], "killed_stats": summary, "alive_stats": dict(summary, median=0.5, max=0.5),
                     "killed_lease_acquired_stats": summary, "bound": "lease", "bound_s": 10.5},
        "flapping": {
            "seed": 14, "schedule": [(2.0, 3.0)], "single_prefix_s": 60.0,
            "pair": {"route_calls_per_caller": {A: 2, B: 0}, "lease_changes_while_both_live": 0,
                     "terms": [{"overlapping_writers": [], "not_the_holder": []}], "path_changes": [{"path": "vpn"}, {"path": "dx"}]},
            "single": {"path_changes": [{"path": "vpn"}]},
            "comparison": bench.compare_changes([(1.0, "vpn"), (5.0, "dx")], [(1.0, "vpn")]),
        },
    }
    rows = dict(bench.summary_rows(scenarios))
    assert rows["takeover: DX cut + holder SIGKILLed -> routes on VPN"] == "median 7.50 s, max 7.50 s (n=1)"
    assert rows["takeover runs: overlapping_writers / a write by the wrong monitor"] == "0 / 0"
    assert rows["pair: route-path changes"] == "2 (1 to VPN, 1 to DX)"
    assert rows["pair: lease changes while both live; per-term breaches"] == "0; 0 (1 term)"
    assert "same order: no" in rows["pair vs single over the same prefix"]


def test_runs_are_compared_whole_or_both_cut_at_the_prefix():
    pair = [{"offset_s": 10.0, "path": "vpn"}, {"offset_s": 601.0, "path": "dx"}]
    single = [{"offset_s": 10.1, "path": "vpn"}, {"offset_s": 601.2, "path": "dx"}]
    assert bench.compare_runs(pair, single)["counts"] == [2, 2]  # the failback after the last restore counts in both
    assert bench.compare_runs(pair, single)["within_tolerance"]
    cut = bench.compare_runs(pair, single[:1] + [{"offset_s": 130.0, "path": "dx"}], prefix_s=120.0)
    assert cut["counts"] == [1, 1] and cut["within_tolerance"]
