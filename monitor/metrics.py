# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics of the daemon, on their own registry.

The probe loop touches only children bound once per target (``bind_targets``), so a
round costs a few counter increments and no label lookups. Values that are cheap to
compute but change continuously (time in state, window loss) are read at scrape time.
"""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import start_http_server

PREFIX = "lz_failover_"
PATHS = ("dx", "vpn", "mixed", "unknown")
NAN = float("nan")


class TargetChildren:
    """The per-target children the probe loop updates every round."""

    __slots__ = ("sent", "lost", "rtt")

    def __init__(self, sent, lost, rtt):
        self.sent = sent
        self.lost = lost
        self.rtt = rtt


class Metrics:  # pylint: disable=too-many-instance-attributes
    """Every metric of the daemon; see the names below (all prefixed ``lz_failover_``)."""

    def __init__(self, registry=None):
        self.registry = registry or CollectorRegistry()
        self._server = None

        def counter(name, doc, labels=()):
            return Counter(PREFIX + name, doc, labels, registry=self.registry)

        def gauge(name, doc, labels=()):
            return Gauge(PREFIX + name, doc, labels, registry=self.registry)

        # probing
        self.probe_rounds = counter("probe_rounds", "DX probe rounds run")
        self.probe_rounds_failed = counter("probe_rounds_failed", "DX probe rounds without the quorum of answers")
        self.probe_overruns = counter("probe_round_overruns", "Probe slots skipped because a round ran past its slot")
        self.probe_errors = counter("probe_errors", "Probe rounds skipped because of an unexpected error (not counted as loss)")
        self.echoes_sent = counter("echoes_sent", "ICMP echoes sent to a DX target", ("target",))
        self.echoes_lost = counter("echoes_lost", "ICMP echoes to a DX target without a reply in time", ("target",))
        self.target_rtt = gauge("target_rtt_seconds", "RTT of the latest echo to a DX target (NaN when lost)", ("target",))
        self.target_window_loss = gauge("target_window_loss_ratio", "Loss of a DX target over the brownout window (0..1)", ("target",))
        self.target_window_rtt = gauge("target_window_rtt_seconds", "Average RTT of a DX target over the brownout window", ("target",))
        # paths and decisions
        self.desired_path = gauge("desired_path", "1 for the path the state machine wants", ("path",))
        self.active_path = gauge("active_path", "1 for the path the route tables showed at the latest read", ("path",))
        self.routes_converged = gauge("routes_converged", "1 when the route tables are on the desired path")
        self.transitions = counter("transitions", "Path changes decided", ("from_path", "to_path", "reason"))
        self.alerts = counter("alerts", "Alerts raised by the state machine", ("alert",))
        self.last_transition = gauge("last_transition_timestamp_seconds", "Unix time of the latest path change decided")
        self.time_in_state = gauge("time_in_state_seconds", "Seconds since the state machine entered its current path")
        self.failback_hold = gauge("failback_hold_seconds", "Failback hold now in force, including flap dampening")
        # EC2
        self.api_requests = counter("api_requests", "EC2 HTTP requests by operation and result code (every retry counts)", ("operation", "code"))
        self.api_errors = counter("api_errors", "EC2 calls that failed after the client's retries", ("operation", "code"))
        self.route_actions = counter("route_actions", "Route changes run, by action and outcome", ("action", "outcome"))
        self.route_action_latency = Histogram(
            PREFIX + "route_action_latency_seconds", "Latency of route changes (CreateRoute, ReplaceRoute, DeleteRoute)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry,
        )
        self.convergence_latency = Histogram(
            PREFIX + "decision_to_routes_seconds", "From a path decision to the route tables matching it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=self.registry,
        )
        self.route_conflicts = counter("route_conflicts", "Times a foreign route blocked a change (never touched)")
        self.foreign_routes = gauge("foreign_routes", "Foreign static routes for managed destinations at the latest read")
        self.drift_repairs = counter("drift_repairs", "Reconciles that found the tables off the desired path and repaired them")
        # VPN path, notifications, daemon
        self.vpn_path_healthy = gauge("vpn_path_healthy", "VPN path check: 1 healthy, 0 unhealthy, -1 unknown or disabled")
        self.vpn_probe_rounds = counter("vpn_probe_rounds", "VPN path check rounds run", ("result",))
        self.notifications = counter("notifications", "SNS notifications by outcome (sent, failed, dropped)", ("outcome",))
        self.cloudwatch_data = counter("cloudwatch_data", "CloudWatch metric data items by outcome (sent, dropped, rejected)", ("outcome",))
        self.cloudwatch_requests = counter("cloudwatch_requests", "PutMetricData calls by result code, after the client's retries", ("code",))
        self.cloudwatch_backlog = gauge("cloudwatch_backlog", "CloudWatch metric data items waiting to be sent")
        self.config_reloads = counter("config_reloads", "SIGHUP reloads by outcome (applied, rejected)", ("outcome",))
        self.log_lines_dropped = gauge("log_lines_dropped", "Log lines dropped because stdout could not keep up")
        # Coordination (monitors in pairs, one writer per failover group through a lease).
        self.lease_holder = gauge("lease_holder", "1 while this monitor holds the lease and may change route tables, 0 otherwise")
        self.pin_in_force = gauge("pin_in_force", "1 while an operator's pin sets the routes' path (the pinned_path in the status line), 0 otherwise")
        self.lease_fencing = gauge("lease_fencing", "Fencing number of the lease as last read (grows with every new holder)")
        self.lease_transitions = counter("lease_transitions", "Lease changes of this monitor (acquired, lost, released)", ("event",))
        self.coordination_errors = counter("coordination_errors", "Coordination table calls that failed, by operation and code", ("operation", "code"))
        self.vpn_path_healthy.set(-1)
        self.routes_converged.set(0)
        self._bound_targets = ()

    # -- probe targets

    def bind_targets(self, targets):
        """Pre-bind the per-target children (dropping those of targets no longer probed)."""
        for target in self._bound_targets:
            if target not in targets:
                for family in (self.echoes_sent, self.echoes_lost, self.target_rtt, self.target_window_loss, self.target_window_rtt):
                    family.remove(target)
        self._bound_targets = tuple(targets)
        return tuple(TargetChildren(self.echoes_sent.labels(target), self.echoes_lost.labels(target), self.target_rtt.labels(target)) for target in targets)

    def watch_windows(self, targets, window_stats):
        """Read each target's window loss and RTT at scrape time; ``window_stats(i)`` -> (loss_pct, rtt_ms)."""
        for index, target in enumerate(targets):
            self.target_window_loss.labels(target).set_function(lambda index=index: _ratio(window_stats(index)[0]))
            self.target_window_rtt.labels(target).set_function(lambda index=index: _seconds(window_stats(index)[1]))

    # -- paths

    def set_path(self, family, path):
        for name in PATHS:
            family.labels(name).set(1 if name == path else 0)

    # -- server

    def serve(self, address, port):
        """Start the HTTP endpoint (replacing a running one)."""
        self.stop_serving()
        self._server, _thread = start_http_server(port, addr=address, registry=self.registry)

    def stop_serving(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _ratio(loss_pct):
    return NAN if loss_pct is None else loss_pct / 100.0


def _seconds(rtt_ms):
    return NAN if rtt_ms is None or (isinstance(rtt_ms, float) and math.isnan(rtt_ms)) else rtt_ms / 1000.0
