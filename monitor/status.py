# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-target loss and RTT between two status lines (cheap to feed once per round)."""

from __future__ import annotations


class _TargetTally:
    __slots__ = ("sent", "lost", "rtt_sum", "rtt_max")

    def __init__(self):
        self.sent = 0
        self.lost = 0
        self.rtt_sum = 0.0
        self.rtt_max = None


class IntervalStats:
    """Counts echoes per target and rounds since the last ``report()``."""

    def __init__(self, targets):
        self.targets = tuple(targets)
        self.rounds = 0
        self.failed_rounds = 0
        self._tallies = [_TargetTally() for _target in self.targets]

    def add(self, rtts_ms, passed):
        self.rounds += 1
        if not passed:
            self.failed_rounds += 1
        for tally, rtt_ms in zip(self._tallies, rtts_ms):
            tally.sent += 1
            if rtt_ms is None:
                tally.lost += 1
            else:
                tally.rtt_sum += rtt_ms
                if tally.rtt_max is None or rtt_ms > tally.rtt_max:
                    tally.rtt_max = rtt_ms

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
