"""The failover state machine, driven by synthetic probe streams (deterministic seeds)."""

from __future__ import annotations

import random

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import default
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import FailoverStateMachine
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PolicySettings
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import best_rtt_ms
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import failback_hold_s
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import round_passes

INTERVAL = 0.1
UP = 1.0  # an answered echo's RTT in ms
DOWN = None
ECHOES = default("probe.echoes")


class Stream:
    """Feeds rounds to a state machine on a fixed 0.1 s cadence and records transitions.

    Each round sends ``echoes`` echoes to every target (the daemon's default unless given).
    """

    def __init__(self, settings=None, targets=1, path="dx", history=(), start=1000.0, echoes=ECHOES):
        self.now = start
        self.echoes = echoes
        self.machine = FailoverStateMachine(settings or PolicySettings(), targets, path=path, failover_history=history, now=start)
        self.transitions = []
        self.alerts = []

    def echo_rtts(self, rtts, loss, rng):
        """A round: ``rtts`` per target, an RTT for all its echoes or a tuple of one per echo; ``loss`` then drops echoes at random."""
        per_target = [rtt if isinstance(rtt, tuple) else (rtt,) * self.echoes for rtt in rtts]
        return [[DOWN if loss is not None and rng.random() < loss else rtt for rtt in echoes] for echoes in per_target]

    def rounds(self, seconds, rtts=(UP,), vpn_healthy=None, loss=None, rng=None):
        """Run ``seconds`` of rounds; ``loss`` (0..1) drops each echo at random with ``rng``."""
        for _round in range(int(round(seconds / INTERVAL))):
            self.now += INTERVAL
            decision = self.machine.observe(self.now, self.echo_rtts(rtts, loss, rng), vpn_healthy=vpn_healthy)
            if decision.transition:
                self.transitions.append((round(self.now, 3), decision.path, decision.reason))
            if decision.alert:
                self.alerts.append(decision.alert)
        return self

    @property
    def path(self):
        return self.machine.path


def test_healthy_dx_stays_on_dx():
    stream = Stream().rounds(120)
    assert stream.transitions == [] and stream.path == "dx"


def test_hard_failure_fails_over_after_four_failed_rounds_by_default():
    assert PolicySettings().hard_failure_rounds == default("policy.hard_failure_rounds") == 4
    stream = Stream().rounds(5).rounds(0.3, rtts=(DOWN,))
    assert stream.path == "dx", "3 lost rounds are not enough"
    stream.rounds(0.1, rtts=(DOWN,))
    assert stream.transitions == [(1005.4, "vpn", "hard_failure")]


def test_hard_failure_fails_over_after_the_configured_rounds():
    stream = Stream(PolicySettings(hard_failure_rounds=6)).rounds(5).rounds(0.5, rtts=(DOWN,))
    assert stream.path == "dx", "5 lost rounds are not enough"
    stream.rounds(0.1, rtts=(DOWN,))
    assert stream.transitions == [(1005.6, "vpn", "hard_failure")]


def test_hard_failure_evidence_names_the_numbers():
    machine = FailoverStateMachine(PolicySettings(hard_failure_rounds=2), 2)
    machine.observe(1.0, [[UP], [UP]])
    machine.observe(1.1, [[DOWN], [DOWN]])
    decision = machine.observe(1.2, [[DOWN], [DOWN]])
    assert decision.transition and decision.reason == "hard_failure"
    assert decision.evidence["consecutive_failed_rounds"] == 2
    assert decision.evidence["window_loss_pct"] == [pytest.approx(66.7), pytest.approx(66.7)]


def test_isolated_losses_never_fail_over():
    """Bursts of lost rounds one short of a hard failure (3 by default), every 2.3 s: about 13% loss."""
    stream = Stream()
    burst_s = (stream.machine.settings.hard_failure_rounds - 1) * INTERVAL
    for _cycle in range(200):
        stream.rounds(burst_s, rtts=(DOWN,)).rounds(2.0)
    assert stream.transitions == []


def test_quorum_one_target_down_is_not_a_failure():
    stream = Stream(PolicySettings(min_healthy_targets=2), targets=3).rounds(60, rtts=(UP, UP, DOWN))
    assert stream.transitions == []


def test_quorum_two_targets_down_is_a_failure():
    stream = Stream(PolicySettings(min_healthy_targets=2), targets=3).rounds(5, rtts=(UP, UP, UP)).rounds(1, rtts=(UP, DOWN, DOWN))
    assert stream.transitions and stream.transitions[0][2] == "hard_failure"


def test_sustained_partial_loss_is_a_brownout():
    rng = random.Random(7)
    # Hard failure needs every echo of several rounds in a row lost: turn it off to see the window rule alone.
    stream = Stream(PolicySettings(hard_failure_rounds=1000)).rounds(10).rounds(10, loss=0.4, rng=rng)
    assert [(path, reason) for _at, path, reason in stream.transitions] == [("vpn", "brownout")]
    assert 1.0 < stream.transitions[0][0] - 1010.0 < 10.0


def test_brownout_is_judged_only_once_half_the_window_is_covered():
    stream = Stream(PolicySettings(hard_failure_rounds=1000)).rounds(10, loss=0.6, rng=random.Random(3))
    assert stream.transitions[0][0] - 1000.0 == pytest.approx(5.0, abs=0.11)


def test_high_rtt_is_a_brownout_when_configured():
    stream = Stream(PolicySettings(brownout_max_rtt_ms=50.0)).rounds(10).rounds(10, rtts=(80.0,))
    assert [(path, reason) for _at, path, reason in stream.transitions] == [("vpn", "brownout")]
    assert Stream().rounds(20, rtts=(80.0,)).transitions == [], "off by default"


def test_echo_slower_than_max_rtt_counts_as_lost():
    stream = Stream(PolicySettings(max_rtt_ms=20.0)).rounds(2).rounds(1, rtts=(30.0,))
    assert stream.transitions[0][2] == "hard_failure"


def test_failback_after_hold_time():
    stream = Stream().rounds(2).rounds(1, rtts=(DOWN,))
    restored_at = stream.now
    stream.rounds(29.9)
    assert stream.path == "vpn"
    stream.rounds(0.3)
    (_failover, failback) = stream.transitions
    assert failback[1:] == ("dx", "dx_recovered")
    assert failback[0] - restored_at == pytest.approx(30.1, abs=0.11)


def test_any_failed_round_restarts_the_hold():
    stream = Stream().rounds(2).rounds(1, rtts=(DOWN,)).rounds(25).rounds(0.1, rtts=(DOWN,))
    restarted_at = stream.now
    stream.rounds(29)
    assert stream.path == "vpn"
    stream.rounds(1.2)
    assert stream.path == "dx"
    assert stream.transitions[-1][0] - restarted_at == pytest.approx(30.1, abs=0.11)


def test_flapping_link_fails_over_once_and_back_once():
    stream = Stream().rounds(5)
    for _flap in range(20):  # 60 s of 1.5 s down / 1.5 s up
        stream.rounds(1.5, rtts=(DOWN,)).rounds(1.5)
    stream.rounds(40)
    assert [(path, reason) for _at, path, reason in stream.transitions] == [("vpn", "hard_failure"), ("dx", "dx_recovered")]


def test_dampening_doubles_the_hold_per_recent_failover():
    stream = Stream(PolicySettings(failback_hold_s=10.0, dampening_max_hold_s=35.0))
    holds = []
    for _outage in range(4):
        stream.rounds(1, rtts=(DOWN,))
        holds.append(stream.machine.failback_hold_s(stream.now))
        stream.rounds(60)
    assert holds == [10.0, 20.0, 35.0, 35.0], "doubles, then capped"
    failbacks = [at for at, path, _reason in stream.transitions if path == "dx"]
    assert len(failbacks) == 4


def test_dampening_forgets_old_failovers():
    settings = PolicySettings(failback_hold_s=10.0, dampening_window_s=100.0)
    stream = Stream(settings).rounds(1, rtts=(DOWN,)).rounds(150).rounds(1, rtts=(DOWN,))
    assert stream.machine.failback_hold_s(stream.now) == 10.0


def test_the_hold_of_a_running_machine_is_read_without_changing_its_history():
    """The daemon reports the hold between rounds: failback_hold_s only reads the history."""
    settings = PolicySettings(failback_hold_s=3, dampening_max_hold_s=20, dampening_window_s=100)
    assert failback_hold_s(settings, [10.0, 150.0, 160.0, 170.0], 200.0) == 12, "three failovers in the window: doubled twice"
    assert failback_hold_s(settings, [150.0, 160.0, 170.0, 180.0], 200.0) == 20, "capped"
    machine = FailoverStateMachine(settings, 1, path="vpn", failover_history=[10.0, 150.0], now=200.0)
    history = list(machine.failover_history)
    assert failback_hold_s(settings, machine.failover_history, 200.0) == 3 and list(machine.failover_history) == history


def test_a_round_passes_with_the_quorum_of_answers_in_time():
    assert round_passes([[1.0], [None]], 1) and not round_passes([[1.0], [None]], 2) and not round_passes([[None]], 1)
    assert round_passes([[1.0], [9.0]], 2, max_rtt_ms=10) and not round_passes([[1.0], [11.0]], 2, max_rtt_ms=10)


def test_a_target_answers_in_a_round_when_any_of_its_echoes_is_answered_in_time():
    assert round_passes([[None, 3.0]], 1) and round_passes([[3.0, None], [None, None]], 1) and not round_passes([[None, None]], 1)
    assert round_passes([[11.0, 9.0]], 1, max_rtt_ms=10) and not round_passes([[11.0, None]], 1, max_rtt_ms=10), "a slow echo is a lost one"
    assert best_rtt_ms([None, 3.0, 2.0]) == 2.0 and best_rtt_ms([None, None]) is None and best_rtt_ms([11.0, 9.0], max_rtt_ms=10) == 9.0


def test_one_of_two_echoes_lost_every_round_is_a_brownout_although_every_round_passes():
    """50% of the echoes are lost: the brownout rule sees it, the hard-failure rule sees no failed round."""
    machine = FailoverStateMachine(PolicySettings(), 1, now=0.0)
    transitions = []
    for number in range(1, 61):
        decision = machine.observe(number * INTERVAL, [[UP, DOWN]])
        assert machine.consecutive_failed_rounds == 0
        if decision.transition:
            transitions.append((number, decision))
    ((number, decision),) = transitions
    assert (decision.path, decision.reason) == ("vpn", "brownout")
    assert number == 51, "judged once half the 10 s window is covered (5 s after the first round)"
    assert decision.evidence["window_loss_pct"] == [50.0] and decision.evidence["window_samples"] == [2 * 51]


def test_the_window_counts_every_echo_so_ten_percent_echo_loss_reads_ten_percent():
    """One echo of two lost in every fifth round: no target ever fails to answer, yet 10% of the echoes are lost."""
    machine = FailoverStateMachine(PolicySettings(), 1, now=0.0)
    for number in range(1, 101):
        assert not machine.observe(number * INTERVAL, [[UP, DOWN] if number % 5 == 0 else [UP, UP]]).transition
    evidence = machine.evidence(10.0)
    assert evidence["window_loss_pct"] == [10.0] and evidence["window_samples"] == [200]


def test_a_round_without_the_echoes_of_every_target_is_refused():
    machine = FailoverStateMachine(PolicySettings(), 2, now=0.0)
    with pytest.raises(ValueError, match="expected the echoes of 2 targets, got 1"):
        machine.observe(0.1, [[UP]])
    with pytest.raises(ValueError, match="every target needs at least one echo"):
        machine.observe(0.1, [[UP], []])


def test_dampening_history_survives_a_restart():
    """A restarted monitor is given the persisted failover times and keeps the longer hold."""
    first = Stream(PolicySettings(failback_hold_s=10.0)).rounds(1, rtts=(DOWN,)).rounds(20).rounds(1, rtts=(DOWN,))
    history = list(first.machine.failover_history)
    restarted = Stream(PolicySettings(failback_hold_s=10.0), path="vpn", history=history, start=first.now)
    restarted.rounds(19)
    assert restarted.path == "vpn", "second failover in the window: hold is 20 s"
    restarted.rounds(1.2)
    assert restarted.path == "dx"


def test_starting_on_vpn_waits_for_the_hold():
    stream = Stream(path="vpn").rounds(29.9)
    assert stream.path == "vpn"
    stream.rounds(0.2)
    assert stream.transitions[-1][1:] == ("dx", "dx_recovered")


def test_both_paths_down_changes_nothing_and_alerts_once():
    stream = Stream().rounds(2).rounds(5, rtts=(DOWN,), vpn_healthy=False)
    assert stream.transitions == [] and stream.path == "dx"
    assert len(stream.alerts) == 1 and "VPN path is down too" in stream.alerts[0]
    stream.rounds(0.1, rtts=(DOWN,), vpn_healthy=True)
    assert stream.transitions[-1][1:] == ("vpn", "hard_failure")


def test_dead_vpn_fails_back_at_once_when_dx_passes():
    stream = Stream().rounds(2).rounds(1, rtts=(DOWN,), vpn_healthy=True).rounds(1, vpn_healthy=True)
    assert stream.path == "vpn"
    stream.rounds(0.1, vpn_healthy=False)
    assert stream.transitions[-1][1:] == ("dx", "vpn_down")


def test_dead_vpn_with_dead_dx_stays():
    stream = Stream().rounds(2).rounds(1, rtts=(DOWN,), vpn_healthy=True).rounds(3, rtts=(DOWN,), vpn_healthy=False)
    assert stream.path == "vpn"
    assert len(stream.alerts) == 1


def test_settings_errors_are_listed_together():
    with pytest.raises(ValidationError) as caught:
        FailoverStateMachine(PolicySettings(hard_failure_rounds=0, brownout_loss_pct=120, failback_hold_s=700), 1)
    text = caught.value.message
    assert "hard_failure_rounds" in text and "brownout_loss_pct" in text and "dampening_max_hold_s" in text


def test_quorum_larger_than_targets_is_refused():
    with pytest.raises(ValidationError, match="exceeds the number of DX targets"):
        FailoverStateMachine(PolicySettings(min_healthy_targets=3), 2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ten_percent_loss_for_ten_minutes_never_fails_over_with_the_defaults(seed):
    """The issue's target: 10 minutes (6000 rounds) of 10% random echo loss on one target, default settings.

    About 1.3% of such runs see a false brownout (about 2 a day, benchmarks/README.md); these
    seeds do not. The previous defaults (1 echo, 5 rounds) fail over in about half of them.
    """
    stream = Stream().rounds(600, loss=0.10, rng=random.Random(seed))
    assert stream.transitions == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_five_percent_loss_never_fails_over(seed):
    """Statistical run: 120k rounds (over 3 hours at 10 rounds/s) of 5% random loss on one target."""
    stream = Stream().rounds(12000, loss=0.05, rng=random.Random(seed))
    assert stream.transitions == []


def test_forty_percent_loss_fails_over_within_ten_seconds():
    """100 independent onsets of sustained 40% loss: every failover within 10 s."""
    rng = random.Random(42)
    delays = []
    for _trial in range(100):
        stream = Stream().rounds(12)
        onset = stream.now
        stream.rounds(10, loss=0.4, rng=rng)
        assert stream.transitions, "no failover within 10 s of 40% loss"
        delays.append(stream.transitions[0][0] - onset)
    assert max(delays) <= 10.0
