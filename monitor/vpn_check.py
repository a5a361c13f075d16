# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN path awareness: a second, slower prober for addresses reachable only through the appliance.

Its verdict feeds ``FailoverStateMachine.observe(vpn_healthy=...)``: None while
unknown (the state machine then assumes the VPN is usable, as when the check is off),
False after ``unhealthy_after_rounds`` failed rounds in a row, True after
``healthy_after_rounds`` passing rounds in a row.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import round_passes
from ansible_collections.localzones.failover.plugins.module_utils.probing import prober_for
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import echo_rtts_ms_of
from ansible_collections.localzones.failover.plugins.module_utils import events
from .status import target_rtts_for_log


class VpnHealthTracker:
    """Turns round verdicts into a debounced health state (pure: no clock, no sockets)."""

    def __init__(self, unhealthy_after_rounds, healthy_after_rounds):
        self.unhealthy_after = unhealthy_after_rounds
        self.healthy_after = healthy_after_rounds
        self.healthy = None
        self._passed_in_a_row = 0
        self._failed_in_a_row = 0

    def record(self, passed):
        """Take one round's verdict; return True when the health state changed."""
        if passed:
            self._passed_in_a_row += 1
            self._failed_in_a_row = 0
            new_state = True if self._passed_in_a_row >= self.healthy_after else self.healthy
        else:
            self._failed_in_a_row += 1
            self._passed_in_a_row = 0
            new_state = False if self._failed_in_a_row >= self.unhealthy_after else self.healthy
        changed = new_state != self.healthy
        self.healthy = new_state
        return changed


class VpnChecker:
    """Probes ``vpn_check.targets`` on its own thread and cadence; ``healthy`` is read lock-free."""

    def __init__(self, settings, kind, privileged, log, metrics):
        self.settings = settings
        self._log = log
        self._metrics = metrics
        self._tracker = VpnHealthTracker(settings.unhealthy_after_rounds, settings.healthy_after_rounds)
        # Opened here, on the caller's thread, so a socket problem is reported at start or reload.
        self._prober = prober_for(kind, settings.targets, source=settings.source, privileged=privileged, timeout=settings.timeout)
        self._stop = threading.Event()
        self._passed = metrics.vpn_probe_rounds.labels("passed")
        self._failed = metrics.vpn_probe_rounds.labels("failed")
        self._thread = threading.Thread(target=self._run, name="vpn-check", daemon=True)

    @property
    def healthy(self):
        return self._tracker.healthy

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        interval = self.settings.interval
        next_round = time.monotonic()
        try:
            while not self._stop.is_set():
                self._record(echo_rtts_ms_of(self._prober.round()))
                next_round += interval
                now = time.monotonic()
                if next_round < now:
                    next_round = now  # fell behind: start again from now rather than bursting
                self._stop.wait(next_round - now)
        except Exception:  # pylint: disable=broad-except
            # A checker that died knows nothing: unknown makes the state machine assume the VPN usable.
            self._tracker.healthy = None
            self._metrics.vpn_path_healthy.set(-1)
            self._log.exception(events.VPN_CHECK_FAILED)
        finally:
            self._prober.close()

    def _record(self, echo_rtts_ms):
        passed = round_passes(echo_rtts_ms, self.settings.min_healthy_targets)
        (self._passed if passed else self._failed).inc()
        if self._tracker.record(passed):
            healthy = self._tracker.healthy
            self._metrics.vpn_path_healthy.set(1 if healthy else 0)
            log = self._log.info if healthy else self._log.warning
            log(events.VPN_HEALTH, healthy=healthy, targets=list(self.settings.targets), rtt_ms=target_rtts_for_log(echo_rtts_ms))

    def stop(self, timeout=2.0):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._prober.close()
        self._metrics.vpn_path_healthy.set(-1)
