# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-target loss and RTT of probe rounds: between two status lines (cheap to feed once per round), and of one round for a log line.

A round comes as the state machine reads it, ``echo_rtts_ms``: per target, the RTT in
ms of each of its echoes, None for a lost one. Loss counts every echo.
"""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import best_rtt_ms


def target_rtts_for_log(echo_rtts_ms):
    """Per target, its RTT in the round (its fastest echo, ms, rounded) or None when every echo was lost.

    One number per target, whatever the echoes per round: the shape log readers had
    when a round was one echo per target.
    """
    return [None if rtt is None else round(rtt, 3) for rtt in (best_rtt_ms(rtts_ms) for rtts_ms in echo_rtts_ms)]


class _TargetTally:
    __slots__ = ("sent", "lost", "rtt_sum", "rtt_max")

    def __init__(self):
        self.sent = 0
        self.lost = 0
        self.rtt_sum = 0.0
        self.rtt_max = None

    def add(self, rtt_ms):
        """One echo: its RTT, or None when it was lost."""
        self.sent += 1
        if rtt_ms is None:
            self.lost += 1
            return
        self.rtt_sum += rtt_ms
        if self.rtt_max is None or rtt_ms > self.rtt_max:
            self.rtt_max = rtt_ms


class IntervalStats:
    """Counts echoes per target and rounds since the last ``report()``."""

    def __init__(self, targets):
        self.targets = tuple(targets)
        self.rounds = 0
        self.failed_rounds = 0
        self._tallies = [_TargetTally() for _target in self.targets]

    def add(self, echo_rtts_ms, passed):
        self.rounds += 1
        if not passed:
            self.failed_rounds += 1
        for tally, rtts_ms in zip(self._tallies, echo_rtts_ms):
            for rtt_ms in rtts_ms:
                tally.add(rtt_ms)

    def report(self):
        """The figures since the last report, as JSON-ready data; then start a new interval."""
        targets = []
        for target, tally in zip(self.targets, self._tallies):
            received = tally.sent - tally.lost
            targets.append({
                "target": target,
                "sent": tally.sent,
                "lost": tally.lost,
                "loss_pct": round(100.0 * tally.lost / tally.sent, 1) if tally.sent else None,
                "rtt_avg_ms": round(tally.rtt_sum / received, 3) if received else None,
                "rtt_max_ms": None if tally.rtt_max is None else round(tally.rtt_max, 3),
            })
        report = {"rounds": self.rounds, "failed_rounds": self.failed_rounds, "targets": targets}
        self.rounds = 0
        self.failed_rounds = 0
        self._tallies = [_TargetTally() for _target in self.targets]
        return report
