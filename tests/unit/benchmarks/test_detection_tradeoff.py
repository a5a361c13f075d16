# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/detection_tradeoff.py: its exact rates against closed forms worked out by hand, its
detection times against the schedule's arithmetic, and a short seeded Monte Carlo of the real machine."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import default
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import FailoverStateMachine
from benchmarks import baseline_monitor
from benchmarks import detection_tradeoff as tradeoff

RTT_S = 0.001


def hard_failure_only(candidate):
    """The candidate with a brownout rule that random loss far below 99% cannot trigger."""
    return dataclasses.replace(candidate, settings=dataclasses.replace(candidate.settings, brownout_loss_pct=99.0))


# --------------------------------------------------------------------------- per-round failure


@pytest.mark.parametrize("echoes, targets, quorum, expected", [
    (1, 1, 1, 0.1),  # the echo is lost
    (2, 1, 1, 0.01),  # both echoes lost
    (1, 2, 1, 0.01),  # both targets lost
    (1, 2, 2, 1 - 0.9 ** 2),  # either target lost
    (1, 3, 2, 0.1 ** 3 + 3 * 0.1 ** 2 * 0.9),  # no target or one target answered
    (2, 2, 1, 0.01 ** 2),
])
def test_round_failure_probability_matches_the_binomial_worked_by_hand(echoes, targets, quorum, expected):
    assert tradeoff.round_failure_probability(0.1, echoes, targets, quorum) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- run lengths


def test_with_one_hard_failure_round_every_failed_round_fails_over():
    for p in (0.0, 0.01, 0.1, 0.5):
        assert tradeoff.failover_rate_per_round(p, 1) == pytest.approx(p, abs=1e-15)


def test_two_failed_rounds_in_a_row_at_even_odds_take_six_rounds_on_average():
    # E[T] = 1/p + 1/p^2 = 2 + 4 for p = 1/2.
    assert tradeoff.failover_rate_per_round(0.5, 2) == pytest.approx(1 / 6.0)


def test_no_loss_never_fails_over_and_total_loss_fails_over_every_h_rounds():
    assert tradeoff.failover_rate_per_round(0.0, 4) == 0.0
    assert tradeoff.failover_rate_per_round(1.0, 4) == 0.25


def test_the_rate_per_day_with_one_hard_failure_round_is_rounds_per_day_times_p():
    candidate = tradeoff.grid_candidate(0.1, 1, 1, 1)
    exact = tradeoff.exact_false_failovers(candidate, 0.1, RTT_S)
    assert exact["per_day"] == pytest.approx(864000 * 0.1)
    assert exact["mean_round_period_s"] == pytest.approx(0.1)


def test_no_loss_gives_no_false_failover():
    exact = tradeoff.exact_false_failovers(tradeoff.todays_defaults(1), 0.0, RTT_S)
    assert exact["per_day"] == 0.0
    assert exact["p_at_least_one_in_window"] == 0.0


@pytest.mark.parametrize("p, runs, rounds, expected", [
    (0.1, 1, 10, 1 - 0.9 ** 10),
    (0.3, 2, 2, 0.3 ** 2),
    (0.3, 2, 3, 0.3 ** 2 + 0.7 * 0.3 ** 2),  # FF. or PFF
    (0.3, 3, 2, 0.0),  # too few rounds for a run of three
    (1.0, 3, 3, 1.0),
])
def test_probability_of_a_failover_within_n_rounds_matches_the_enumeration(p, runs, rounds, expected):
    assert tradeoff.probability_of_failover_within(p, runs, rounds) == pytest.approx(expected, abs=1e-15)


def test_the_seeds_cycle_lasts_longer_only_when_its_last_echo_is_lost():
    # Healthy: echoes at 0, 1, 2 s, the last answered at 2 s + RTT, then the pause. Its last echo lost: it times out at 3 s.
    loss = 0.2
    expected = tradeoff.SEED_PAUSE_S + 2.0 + RTT_S + loss * (1.0 - RTT_S)
    assert tradeoff.mean_round_period_s(tradeoff.seed_rule(), loss, RTT_S) == pytest.approx(expected)


# --------------------------------------------------------------------------- detection with the real machine


def test_a_cut_at_a_rounds_start_is_detected_after_h_whole_rounds():
    candidate = tradeoff.grid_candidate(0.1, 1, 1, 4)
    assert tradeoff.detection_time_s(candidate, 0.0, RTT_S) == pytest.approx(4 * 0.1)


def test_a_cut_inside_a_round_is_detected_h_rounds_after_the_next_slot_plus_the_timeout():
    # The round in progress still passes; rounds 2..5 are lost; the 4th lost round ends at its timeout.
    candidate = tradeoff.grid_candidate(0.1, 2, 1, 4, timeout_s=0.05)
    assert tradeoff.detection_time_s(candidate, 0.25, RTT_S) == pytest.approx(4 * 0.1 + 0.05 - 0.025)


def test_todays_defaults_detect_in_half_a_round_less_than_h_rounds_plus_the_timeout_at_the_median():
    summary = tradeoff.detection_summary(tradeoff.todays_defaults(1), 20, RTT_S)
    h, interval, timeout = default("policy.hard_failure_rounds"), default("probe.interval"), default("probe.timeout")
    assert summary["median_s"] == pytest.approx(h * interval + timeout - interval / 2)
    assert summary["max_s"] <= h * interval + timeout


def test_the_seeds_rule_cut_at_a_cycles_start_is_detected_when_its_last_echo_times_out():
    assert tradeoff.detection_time_s(tradeoff.seed_rule(), 0.0, RTT_S) == pytest.approx(2.0 + 1.0)


# --------------------------------------------------------------------------- Monte Carlo of the real machine


def test_the_monte_carlo_agrees_with_the_exact_rate_when_only_the_hard_failure_rule_can_fire():
    candidate = hard_failure_only(tradeoff.grid_candidate(0.1, 1, 1, 2))
    simulated = tradeoff.monte_carlo_false_failovers(candidate, 0.3, 1200.0, "test", RTT_S)
    exact = tradeoff.exact_false_failovers(candidate, 0.3, RTT_S)
    # About 750 failovers: the count's relative standard deviation is about 3.3%, so 15% is 4.5 of them.
    assert simulated["failovers"] > 600
    assert simulated["reasons"] == {"hard_failure": simulated["failovers"]}
    assert simulated["per_day"] == pytest.approx(exact["per_day"], rel=0.15)


def test_the_monte_carlo_sees_the_brownout_rule_the_exact_rate_leaves_out():
    simulated = tradeoff.monte_carlo_false_failovers(tradeoff.todays_defaults(1), 0.3, 600.0, 7, RTT_S)
    assert simulated["reasons"].get("brownout", 0) > 0


def test_the_brownout_window_counts_every_echo_as_the_daemon_does():
    """30% echo loss with two echoes: 30% in the window (a brownout), where whole targets lost would be 9% (none)."""
    candidate = tradeoff.grid_candidate(0.1, 2, 1, 1000)
    simulated = tradeoff.monte_carlo_false_failovers(candidate, 0.3, 120.0, "every echo", RTT_S)
    assert simulated["reasons"].get("brownout", 0) > 0 and "hard_failure" not in simulated["reasons"]


def test_a_seed_gives_the_same_run_again():
    candidate = tradeoff.grid_candidate(0.1, 1, 1, 2)
    first = tradeoff.monte_carlo_false_failovers(candidate, 0.3, 200.0, "again", RTT_S)
    second = tradeoff.monte_carlo_false_failovers(candidate, 0.3, 200.0, "again", RTT_S)
    assert (first["failovers"], first["dx_s"]) == (second["failovers"], second["dx_s"])


# --------------------------------------------------------------------------- candidates and choice


def test_todays_defaults_and_the_seeds_rule_are_read_not_copied():
    today = tradeoff.todays_defaults(1)
    assert (today.interval_s, today.timeout_s, today.echoes) == (default("probe.interval"), default("probe.timeout"), default("probe.echoes"))
    assert today.settings.hard_failure_rounds == default("policy.hard_failure_rounds")
    seed = tradeoff.seed_rule()
    assert (seed.echoes, seed.echo_spacing_s, seed.timeout_s) == (baseline_monitor.ECHOES, baseline_monitor.ECHO_INTERVAL_S, baseline_monitor.ECHO_TIMEOUT_S)
    assert all(not candidate.problems() for candidate in tradeoff.default_candidates())


def test_the_previous_defaults_stand_beside_the_new_ones_and_no_candidate_is_listed_twice():
    previous = tradeoff.previous_defaults(1)
    assert (previous.interval_s, previous.timeout_s, previous.echoes, previous.settings.hard_failure_rounds) == (0.1, 0.1, 1, 5)
    names = [candidate.name for candidate in tradeoff.default_candidates()]
    for expected in ("today's defaults, 1 target", "today's defaults, 3 targets", "previous defaults (1 echo, H5), 1 target",
                     "previous defaults (1 echo, H5), 3 targets", "seed's rule"):
        assert expected in names
    schedules = [dataclasses.replace(candidate, name="") for candidate in tradeoff.default_candidates()]
    assert len(set(schedules)) == len(schedules)


def test_the_seeds_rule_has_no_brownout_rule_as_its_script_has_none():
    """Two of a cycle's three echoes lost in every cycle: the script never fails over, nor may its model."""
    machine = FailoverStateMachine(tradeoff.seed_rule().settings, 1)
    assert not any(machine.observe(4.0 * cycle, [[None, None, 1.0]]).transition for cycle in range(1, 30))


def row(name, median_s, echoes_per_second, per_day_10, per_day_20):
    return {
        "candidate": name, "echoes_per_second": echoes_per_second, "detection": {"median_s": median_s},
        "exact": {0.1: {"per_day": per_day_10}, 0.2: {"per_day": per_day_20}},
        "monte_carlo": {0.1: {"per_day": 0.0}, 0.2: {"per_day": 0.0}},
    }


def test_the_recommendation_is_the_cheapest_that_meets_both_targets_then_the_most_robust():
    args = tradeoff.parse_args(["--seed", "1"])
    rows = [
        row("too slow", 0.55, 10, 0.0, 0.0),
        row("too many false failovers", 0.45, 10, 7.8, 200.0),
        row("dearer", 0.35, 40, 0.0, 0.0),
        row("cheap, fragile at 20%", 0.45, 20, 0.01, 50.0),
        row("cheap, robust at 20%", 0.45, 20, 0.01, 2.0),
    ]
    for each in rows:
        each["meets"] = tradeoff.meets_targets(each, args.loss)
    assert [each["candidate"] for each in rows if each["meets"]] == ["dearer", "cheap, fragile at 20%", "cheap, robust at 20%"]
    assert tradeoff.recommend(rows, args)["candidate"] == "cheap, robust at 20%"


# --------------------------------------------------------------------------- the brownout table


@pytest.mark.parametrize("trials, p, most, expected", [
    (3, 0.5, 1, 0.5),  # 2 or 3 of 3 at even odds: 4 of 8 patterns
    (4, 0.1, 2, 4 * 0.1 ** 3 * 0.9 + 0.1 ** 4),
    (200, 0.1, 200, 0.0),
    (5, 0.0, 0, 0.0),
    (5, 1.0, 4, 1.0),
])
def test_the_binomial_tail_matches_the_sum_worked_by_hand(trials, p, most, expected):
    assert tradeoff.binomial_tail(trials, p, most) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_a_long_window_does_not_overflow_the_binomial_tail():
    # 1202 echoes (30 s of 2 echoes every 0.05 s): the binomial coefficients alone pass a float's range.
    assert 0.0 < tradeoff.binomial_tail(1202, 0.1, 240) < 1e-20


def full_window_with_lost(lost):
    """A machine of today's defaults (one target, no hard-failure rule) fed 100 rounds of 2 echoes in 10 s, ``lost`` echoes lost
    (at most one a round, so no round fails); the decision of the last round, the only one whose window is judged (span 9.9 s)."""
    settings = dataclasses.replace(tradeoff.todays_defaults(1).settings, hard_failure_rounds=1000, brownout_min_window_fraction=0.985)
    machine = FailoverStateMachine(settings, 1)
    decisions = [machine.observe(0.1 * number, [[None if number < lost else 1.0, 1.0]]) for number in range(100)]
    return decisions[-1]


def test_the_most_lost_echoes_without_a_brownout_is_where_the_real_machine_starts_to_fail_over():
    most = tradeoff.most_lost_within(200, default("policy.brownout_loss_pct"))
    assert most == 50
    assert not full_window_with_lost(most).transition
    assert full_window_with_lost(most + 1).reason == "brownout"


def test_the_window_holds_every_echo_of_its_span_give_or_take_the_round_at_its_edge():
    counts = tradeoff.window_echo_counts(tradeoff.todays_defaults(1), RTT_S)
    assert counts == [200, 202]
    assert tradeoff.window_echo_counts(tradeoff.brownout_candidate(20.0, 25.0, 1), RTT_S) == [400]


def test_with_two_targets_at_quorum_one_both_must_brown_out_so_the_per_round_probability_is_squared():
    one = tradeoff.brownout_round_probability(tradeoff.brownout_candidate(10.0, 20.0, 1), 0.1, 202)
    two = tradeoff.brownout_round_probability(tradeoff.brownout_candidate(10.0, 20.0, 2), 0.1, 202)
    assert 0.0 < one < 1e-3
    assert two == pytest.approx(one ** 2)


def test_the_brownout_bound_is_above_the_real_machines_rate_and_not_far_above_it():
    """A short window and a low threshold make brownouts frequent enough to count; hard failures are left out."""
    candidate = dataclasses.replace(tradeoff.brownout_candidate(2.0, 20.0, 1), name="frequent brownouts")
    candidate = dataclasses.replace(candidate, settings=dataclasses.replace(candidate.settings, hard_failure_rounds=1000))
    bound = tradeoff.brownout_false_failovers_bound(candidate, 0.1, RTT_S)
    simulated = tradeoff.monte_carlo_false_failovers(candidate, 0.1, 1800.0, "bound", RTT_S)
    assert simulated["reasons"].get("brownout", 0) > 20 and set(simulated["reasons"]) == {"brownout"}
    # Each brownout lasts several rounds, each of which the bound counts: above, within a factor of 20.
    assert bound["per_day"] / 20 < simulated["per_day"] < bound["per_day"]


def test_the_seeds_rule_has_no_brownout_bound():
    assert tradeoff.brownout_false_failovers_bound(tradeoff.seed_rule(), 0.1, RTT_S) is None


def test_total_loss_fails_over_by_the_hard_failure_rule_after_h_rounds_and_no_loss_never():
    candidate = tradeoff.todays_defaults(1)
    total = tradeoff.catch_summary(candidate, 1.0, 3, "all lost", RTT_S, 60.0)
    assert total["caught"] == 3 and total["reasons"] == {"hard_failure": 3}
    assert total["median_s"] == pytest.approx(default("policy.hard_failure_rounds") * default("probe.interval"))
    clean = tradeoff.catch_summary(candidate, 0.0, 3, "none lost", RTT_S, 5.0)
    assert (clean["caught"], clean["median_s"], clean["p95_s"]) == (0, None, None)


def test_a_percentile_among_the_trials_that_never_failed_over_is_unknown():
    assert tradeoff.percentile_of_caught([1.0, 2.0, math.inf], 0.5) == 2.0
    assert tradeoff.percentile_of_caught([1.0, math.inf, math.inf], 0.5) is None


def test_the_brownout_candidates_hold_the_grid_for_one_and_two_targets_todays_defaults_and_the_rules_to_compare():
    candidates = tradeoff.brownout_candidates()
    names = [candidate.name for candidate in candidates]
    assert len(set(names)) == len(names)
    for window_s, loss_pct in tradeoff.BROWNOUT_GRID:
        for targets in (1, 2):
            assert any(tradeoff.same_schedule_and_policy(candidate, tradeoff.brownout_candidate(window_s, loss_pct, targets)) for candidate in candidates)
    assert sum(1 for candidate in candidates if tradeoff.is_todays_defaults(candidate)) == 2
    assert "seed's rule" in names and "previous defaults (1 echo, H5), 1 target" in names
    previous = tradeoff.previous_defaults(1).settings
    assert (previous.brownout_window_s, previous.brownout_loss_pct) == (10.0, 20.0)


def brownout_row(name, in_grid, targets, meets, median_30_s, per_day=0.0):
    return {"candidate": name, "in_grid": in_grid, "targets": targets, "meets": meets, "expected_per_day_at_most": per_day,
            "catch": {tradeoff.BROWNOUT_JUDGED_CATCH_LOSS: {"median_s": median_30_s}}}


def test_the_brownout_choice_is_the_fastest_one_target_grid_row_that_meets_its_targets():
    rows = [
        brownout_row("fast but false failovers", True, 1, False, 5.0),
        brownout_row("two targets", True, 2, True, 6.0),
        brownout_row("not in the grid", False, 1, True, 6.5),
        brownout_row("slower", True, 1, True, 12.0),
        brownout_row("chosen", True, 1, True, 8.0),
    ]
    assert tradeoff.choose_brownout(rows)["candidate"] == "chosen"
    assert tradeoff.choose_brownout(rows[:3]) is None


def test_todays_brownout_default_meets_the_brownout_targets_of_the_table():
    """The default the table chose: below the false-failover bound at 10% loss with one target, and 30% loss caught."""
    candidate = tradeoff.todays_defaults(1)
    bound = tradeoff.brownout_false_failovers_bound(candidate, 0.1, RTT_S)
    assert bound["per_day"] < tradeoff.MAX_BROWNOUT_FALSE_FAILOVERS_PER_DAY
    caught = tradeoff.catch_summary(candidate, tradeoff.BROWNOUT_JUDGED_CATCH_LOSS, 20, "default", RTT_S, tradeoff.BROWNOUT_CATCH_CAP_S)
    assert caught["caught"] == 20 and caught["reasons"] == {"brownout": 20}
