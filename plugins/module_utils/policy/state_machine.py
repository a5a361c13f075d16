# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover state machine: which path traffic should take, decided from probe rounds.

It is pure: it is fed one probe round at a time with the time of the round, and
answers with a Decision. A round is given as ``echo_rtts_ms``: per DX target, in
target order, the RTT in ms of each echo sent to it in the round, None for a lost one
(``probing.base.echo_rtts_ms_of`` makes it from a prober's round).
It never sleeps, reads clocks or calls AWS, so it is tested with synthetic streams
and shared by the monitor daemon and the benchmarks. The two rules the daemon also
applies outside the machine, ``round_passes`` (rounds before the machine exists) and
``failback_hold_s`` (the hold it reports), are functions here that the machine uses too.

Rules
-----
A *round* is ``probe.echoes`` echoes to every DX target, sent together. A target
**answers** in a round when any of its echoes is answered (and, when ``max_rtt_ms`` is
set, answered that fast; a slower echo counts as lost everywhere); its RTT in the round
is that of its fastest echo. A round **passes** when at least ``min_healthy_targets``
targets answered; otherwise it **fails**.

On the DX path, fail over to the VPN when either

* **hard failure**: the last ``hard_failure_rounds`` rounds all failed (a cut link
  is noticed within about ``hard_failure_rounds * interval + timeout``); or
* **brownout**: over the sliding ``brownout_window_s``, fewer than
  ``min_healthy_targets`` targets are within ``brownout_loss_pct`` loss (and within
  ``brownout_max_rtt_ms`` average RTT, when set). Loss and RTT are those of the
  target's echoes, every echo counted: with 2 echoes per round, 10% of echoes lost is
  10% in the window (which then holds twice the samples), although a round fails
  only when both echoes to a target are lost. A window is judged only once it
  holds at least ``brownout_min_window_fraction`` of its span, so a few losses at
  start-up are never a brownout. Isolated losses never trigger either rule.

On the VPN path, fail back to DX once DX has passed every round for the failback
hold time and shows no brownout. Any failed round restarts the hold.

**Flap dampening**: the hold time is ``failback_hold_s * 2 ** (n - 1)``, where n is
the number of failovers within ``dampening_window_s`` (the current one included),
capped at ``dampening_max_hold_s``. A link that keeps failing settles on the VPN.
The failover history is part of the persisted state, so a restart keeps it.

**VPN path awareness** (when the caller reports VPN health): a DX failure while the
VPN path is also down changes nothing and raises the ``both_down`` alert; on the VPN
path, a dead VPN while DX passes its rounds fails back at once, without waiting for
the hold.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from dataclasses import field

from ..errors import ValidationError
from ..routes.paths import PATH_DX
from ..routes.paths import PATH_VPN
from ..validation import SelfChecking
from .defaults import default

REASON_STEADY = "steady"
REASON_HARD_FAILURE = "hard_failure"
REASON_BROWNOUT = "brownout"
REASON_DX_RECOVERED = "dx_recovered"
REASON_VPN_DOWN = "vpn_down"
REASON_BOTH_DOWN = "both_down"


@dataclass(frozen=True)
class PolicySettings(SelfChecking):
    """Thresholds of the state machine; the defaults meet the project's measured targets
    with the default probing (policy/defaults.py)."""

    min_healthy_targets: int = default("probe.min_healthy_targets")
    max_rtt_ms: float = default("probe.max_rtt_ms")
    hard_failure_rounds: int = default("policy.hard_failure_rounds")
    brownout_window_s: float = default("policy.brownout_window_s")
    brownout_loss_pct: float = default("policy.brownout_loss_pct")
    brownout_max_rtt_ms: float = default("policy.brownout_max_rtt_ms")
    brownout_min_window_fraction: float = default("policy.brownout_min_window_fraction")
    failback_hold_s: float = default("policy.failback_hold_s")
    dampening_window_s: float = default("policy.dampening_window_s")
    dampening_max_hold_s: float = default("policy.dampening_max_hold_s")

    def problems(self):
        """Every invalid setting, as ``name: why`` strings."""
        problems = []

        def need(condition, name, why):
            if not condition:
                problems.append("%s: %s (got %r)" % (name, why, getattr(self, name)))

        need(isinstance(self.min_healthy_targets, int) and self.min_healthy_targets >= 1, "min_healthy_targets", "must be an integer >= 1")
        need(self.max_rtt_ms is None or self.max_rtt_ms > 0, "max_rtt_ms", "must be > 0 or null")
        need(isinstance(self.hard_failure_rounds, int) and self.hard_failure_rounds >= 1, "hard_failure_rounds", "must be an integer >= 1")
        need(self.brownout_window_s > 0, "brownout_window_s", "must be > 0")
        need(0 < self.brownout_loss_pct < 100, "brownout_loss_pct", "must be between 0 and 100")
        need(self.brownout_max_rtt_ms is None or self.brownout_max_rtt_ms > 0, "brownout_max_rtt_ms", "must be > 0 or null")
        need(0 < self.brownout_min_window_fraction <= 1, "brownout_min_window_fraction", "must be in (0, 1]")
        need(self.failback_hold_s >= 0, "failback_hold_s", "must be >= 0")
        need(self.dampening_window_s >= 0, "dampening_window_s", "must be >= 0")
        need(self.dampening_max_hold_s >= self.failback_hold_s, "dampening_max_hold_s", "must be >= failback_hold_s")
        return problems


def counted_rtt(rtt_ms, max_rtt_ms):
    """An echo slower than ``max_rtt_ms`` is as good as lost: None then, else ``rtt_ms``."""
    if rtt_ms is not None and max_rtt_ms is not None and rtt_ms > max_rtt_ms:
        return None
    return rtt_ms


def best_rtt_ms(rtts_ms, max_rtt_ms=None):
    """A target's RTT in a round, from the RTTs of its echoes: the fastest one counted, None when none counts."""
    counted = [rtt_ms for rtt_ms in rtts_ms if counted_rtt(rtt_ms, max_rtt_ms) is not None]
    return min(counted) if counted else None


def round_passes(echo_rtts_ms, min_healthy_targets, max_rtt_ms=None):
    """A round passes when at least ``min_healthy_targets`` targets answered any echo (within ``max_rtt_ms``, when set)."""
    answered = sum(1 for rtts_ms in echo_rtts_ms if best_rtt_ms(rtts_ms, max_rtt_ms) is not None)
    return answered >= min_healthy_targets


def failback_hold_s(settings, failover_history, at):
    """The hold DX must pass before failback at ``at``: doubled per failover within the dampening window, capped.

    Only reads ``failover_history`` (failover times, oldest first), so a caller may ask
    for the hold of a running machine without changing it.
    """
    recent = sum(1 for moment in failover_history if moment >= at - settings.dampening_window_s)
    return min(settings.failback_hold_s * 2 ** (max(1, recent) - 1), settings.dampening_max_hold_s)


@dataclass(frozen=True)
class Decision:
    """What the state machine concluded from one round."""

    path: str
    transition: bool
    reason: str
    evidence: dict = field(default_factory=dict)
    alert: str = None


class _TargetWindow:
    """One target's echoes over the brownout window, one sample per echo: (time of its round, rtt or None)."""

    def __init__(self):
        self.samples = collections.deque()
        self.lost = 0
        self.rtt_sum = 0.0

    def add(self, at, rtt_ms):
        self.samples.append((at, rtt_ms))
        if rtt_ms is None:
            self.lost += 1
        else:
            self.rtt_sum += rtt_ms

    def expire(self, before):
        while self.samples and self.samples[0][0] < before:
            _at, rtt_ms = self.samples.popleft()
            if rtt_ms is None:
                self.lost -= 1
            else:
                self.rtt_sum -= rtt_ms

    def loss_pct(self):
        return 100.0 * self.lost / len(self.samples) if self.samples else 0.0

    def avg_rtt_ms(self):
        received = len(self.samples) - self.lost
        return self.rtt_sum / received if received else None

    def span(self, now):
        return now - self.samples[0][0] if self.samples else 0.0


class FailoverStateMachine:
    """Feeds on probe rounds, decides the path. See the module docstring for the rules.

    ``path`` is where traffic is at start-up (read from the route tables, never
    assumed); ``failover_history`` the times of earlier failovers, in the clock
    of ``observe``'s ``at``, for flap dampening across restarts.
    """

    def __init__(self, settings, target_count, path=PATH_DX, failover_history=(), now=0.0):
        self.settings = settings.validate()
        if settings.min_healthy_targets > target_count:
            raise ValidationError("min_healthy_targets (%d) exceeds the number of DX targets (%d)" % (settings.min_healthy_targets, target_count))
        if path not in (PATH_DX, PATH_VPN):
            raise ValueError("path must be 'dx' or 'vpn', not %r" % (path,))
        self.path = path
        self.target_count = target_count
        self.failover_history = collections.deque(sorted(failover_history))
        self.windows = [_TargetWindow() for _index in range(target_count)]
        self.consecutive_failed_rounds = 0
        # Time of the first passing round of the current unbroken run; on the VPN path
        # the failback hold counts from it. Starts unknown: DX has to prove itself.
        self.passing_since = None
        self.both_down = False
        self.entered_path_at = now

    # -- inputs

    def observe(self, at, echo_rtts_ms, vpn_healthy=None):
        """Take one round: ``echo_rtts_ms`` holds, per DX target, the RTT of each of its echoes (None when lost).

        ``vpn_healthy`` is True/False when the caller checks the VPN path, None when it
        does not (the VPN is then assumed usable). Returns a Decision.
        """
        if len(echo_rtts_ms) != self.target_count:
            raise ValueError("expected the echoes of %d targets, got %d" % (self.target_count, len(echo_rtts_ms)))
        if not all(echo_rtts_ms):
            raise ValueError("every target needs at least one echo in a round, got %r" % (echo_rtts_ms,))
        self._record(at, echo_rtts_ms)
        if self.path == PATH_DX:
            return self._decide_on_dx(at, vpn_healthy)
        return self._decide_on_vpn(at, vpn_healthy)

    def failback_hold_s(self, at):
        """The hold DX must pass before failback, lengthened by recent failovers (which are forgotten once old)."""
        self._forget_old_failovers(at)
        return failback_hold_s(self.settings, self.failover_history, at)

    # -- bookkeeping

    def _record(self, at, echo_rtts_ms):
        settings = self.settings
        for window, rtts_ms in zip(self.windows, echo_rtts_ms):
            # Every echo is a sample, so the brownout threshold stays a share of echoes lost.
            for rtt_ms in rtts_ms:
                window.add(at, counted_rtt(rtt_ms, settings.max_rtt_ms))
            window.expire(at - settings.brownout_window_s)
        if round_passes(echo_rtts_ms, settings.min_healthy_targets, settings.max_rtt_ms):
            self.consecutive_failed_rounds = 0
            if self.passing_since is None:
                self.passing_since = at
        else:
            self.consecutive_failed_rounds += 1
            self.passing_since = None

    def _forget_old_failovers(self, at):
        while self.failover_history and self.failover_history[0] < at - self.settings.dampening_window_s:
            self.failover_history.popleft()

    # -- judgements

    def _hard_failure(self):
        return self.consecutive_failed_rounds >= self.settings.hard_failure_rounds

    def _window_is_judged(self, window, at):
        return window.span(at) >= self.settings.brownout_window_s * self.settings.brownout_min_window_fraction

    def _target_browned_out(self, window):
        settings = self.settings
        if window.loss_pct() > settings.brownout_loss_pct:
            return True
        avg_rtt_ms = window.avg_rtt_ms()
        return settings.brownout_max_rtt_ms is not None and avg_rtt_ms is not None and avg_rtt_ms > settings.brownout_max_rtt_ms

    def _brownout(self, at):
        judged = [window for window in self.windows if self._window_is_judged(window, at)]
        if len(judged) < self.settings.min_healthy_targets:
            return False
        healthy = sum(1 for window in judged if not self._target_browned_out(window))
        return healthy < self.settings.min_healthy_targets

    def evidence(self, at):
        """The numbers behind a decision, for logs and metrics."""
        return {
            "consecutive_failed_rounds": self.consecutive_failed_rounds,
            "window_loss_pct": [round(window.loss_pct(), 1) for window in self.windows],
            "window_avg_rtt_ms": [None if window.avg_rtt_ms() is None else round(window.avg_rtt_ms(), 3) for window in self.windows],
            "window_samples": [len(window.samples) for window in self.windows],
            "dx_passing_for_s": None if self.passing_since is None else round(at - self.passing_since, 3),
            "failback_hold_s": self.failback_hold_s(at),
            "recent_failovers": len(self.failover_history),
        }

    # -- decisions

    def _move(self, at, path, reason):
        self.path = path
        self.entered_path_at = at
        self.both_down = False
        if path == PATH_VPN:
            self.failover_history.append(at)
        return Decision(path=path, transition=True, reason=reason, evidence=self.evidence(at))

    def _stay(self, at, reason=REASON_STEADY, both_down=False):
        newly_both_down = both_down and not self.both_down
        self.both_down = both_down
        if not newly_both_down:
            # The common case, once per round: no evidence is gathered for it.
            return Decision(path=self.path, transition=False, reason=reason)
        alert = "Direct Connect is failing and the VPN path is down too: routes left on %s" % self.path
        return Decision(path=self.path, transition=False, reason=reason, evidence=self.evidence(at), alert=alert)

    def _decide_on_dx(self, at, vpn_healthy):
        if self._hard_failure():
            reason = REASON_HARD_FAILURE
        elif self._brownout(at):
            reason = REASON_BROWNOUT
        else:
            return self._stay(at)
        if vpn_healthy is False:
            return self._stay(at, REASON_BOTH_DOWN, both_down=True)
        return self._move(at, PATH_VPN, reason)

    def _decide_on_vpn(self, at, vpn_healthy):
        dx_passing = self.consecutive_failed_rounds == 0 and not self._brownout(at)
        if vpn_healthy is False:
            if dx_passing:
                return self._move(at, PATH_DX, REASON_VPN_DOWN)
            return self._stay(at, REASON_BOTH_DOWN, both_down=True)
        # The epsilon keeps a hold of exactly N rounds from being missed by float rounding.
        if dx_passing and self.passing_since is not None and at - self.passing_since >= self.failback_hold_s(at) - 1e-6:
            return self._move(at, PATH_DX, REASON_DX_RECOVERED)
        return self._stay(at)
