# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of the monitor daemon's settings: every key's default and type.

The daemon's configuration (``monitor/config.py``), the state machine's
``PolicySettings`` and the monitor role (its defaults, argument spec and template)
all take their defaults from here; a unit test holds the role to this table. A new
setting starts as one row below.

Keys are the dotted paths of the daemon's YAML file (``policy.failback_hold_s``).
Types are named as the role's argument spec names them (``str``, ``int``, ``float``,
``bool``, ``list``). Ranges and cross-key rules are checked where the values are
used: ``PolicySettings.problems`` for the policy, ``monitor/config.py`` for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass


class _Required:
    """The default of a setting the file must give (there is no sensible one)."""

    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Setting:
    """One key of the daemon's configuration file."""

    key: str
    default: object
    type: str


SETTINGS = (
    # What the failover manages: the inventory names it, the daemon has no default.
    Setting("region", REQUIRED, "str"),
    Setting("endpoint_url", None, "str"),
    Setting("route_table_ids", REQUIRED, "list"),
    Setting("destination_cidrs", REQUIRED, "list"),
    Setting("vpn_eni_id", REQUIRED, "str"),
    Setting("probe_route_table_id", None, "str"),
    # How the VPN path is written: per_route (one route per CIDR) or prefix_list (one route
    # per table to prefix_list_id, the customer-managed list holding destination_cidrs).
    Setting("route_strategy", "per_route", "str"),
    Setting("prefix_list_id", None, "str"),
    # The account's routes per route table (Service Quotas L-93826ACB): 500 is AWS's default today.
    Setting("routes_per_table_quota", 500, "int"),
    # Probing of the DX targets: two echoes to each target every 0.1 s and a hard failure
    # after 4 failed rounds detect a silent cut in 0.45 s (median). At 10% random loss on a
    # single target the hard-failure rule fails over falsely 0.0086 times a day, and the
    # brownout rule below (more than 25% of 200 echoes over 10 s) at most 0.00037 times a
    # day, while it still catches 30% loss in about 9 s (the previous defaults, 1 echo, 5
    # rounds, 20%: about 110 a day). benchmarks/detection_tradeoff.py, benchmarks/README.md.
    Setting("probe.kind", "icmp", "str"),
    Setting("probe.targets", REQUIRED, "list"),
    Setting("probe.interval", 0.1, "float"),
    Setting("probe.timeout", 0.1, "float"),
    Setting("probe.echoes", 2, "int"),
    Setting("probe.source", None, "str"),
    Setting("probe.privileged", True, "bool"),
    Setting("probe.min_healthy_targets", 1, "int"),
    Setting("probe.max_rtt_ms", None, "float"),
    # The state machine's thresholds (PolicySettings).
    Setting("policy.hard_failure_rounds", 4, "int"),
    Setting("policy.brownout_window_s", 10.0, "float"),
    Setting("policy.brownout_loss_pct", 25.0, "float"),
    Setting("policy.brownout_max_rtt_ms", None, "float"),
    Setting("policy.brownout_min_window_fraction", 0.5, "float"),
    Setting("policy.failback_hold_s", 30.0, "float"),
    Setting("policy.dampening_window_s", 900.0, "float"),
    Setting("policy.dampening_max_hold_s", 600.0, "float"),
    # VPN path awareness: slower than the DX probe, debounced both ways.
    Setting("vpn_check.enabled", False, "bool"),
    Setting("vpn_check.targets", [], "list"),  # a list, as YAML gives it; never mutated
    Setting("vpn_check.interval", 1.0, "float"),
    Setting("vpn_check.timeout", 0.5, "float"),
    Setting("vpn_check.source", None, "str"),
    Setting("vpn_check.min_healthy_targets", 1, "int"),
    Setting("vpn_check.unhealthy_after_rounds", 3, "int"),
    Setting("vpn_check.healthy_after_rounds", 2, "int"),
    # The daemon's own cadences.
    Setting("reconcile_interval_s", 30, "float"),
    Setting("status_interval_s", 10, "float"),
    # EC2 API client. Each call is sent once: a botocore retry of a throttled route call
    # would spend a token of EC2's bucket that the pacer does not count, and provoke more
    # throttling (benchmarks/route_scale.py: 41 throttled answers in a 400-route switch with
    # 2 attempts, 1 with 1). Throttled route calls are retried by the pacer, every other
    # failure by the actuator's next whole attempt (read, plan, apply).
    Setting("api.max_attempts", 1, "int"),
    Setting("api.connect_timeout_s", 3, "float"),
    Setting("api.read_timeout_s", 5, "float"),
    Setting("api.retry_backoff_max_s", 10, "float"),
    # Pacing of route calls (pacing.Pacer): EC2's bucket of each mutating action holds 50
    # tokens refilled at 5 per second per account and Region; monitors that fail over
    # together share it, so each gets its part (README, "Many route tables, one account").
    Setting("api.max_parallel_calls", 8, "int"),
    Setting("api.mutating_rate_per_s", 5.0, "float"),
    Setting("api.mutating_burst", 50, "int"),
    # Prometheus endpoint.
    Setting("metrics.enabled", True, "bool"),
    Setting("metrics.address", "127.0.0.1", "str"),
    Setting("metrics.port", 9190, "int"),
    # The endpoint has no authentication: an address other than loopback must be allowed on purpose.
    Setting("metrics.allow_remote", False, "bool"),
    # SNS notifications; the regions default to ``region`` when the file leaves them null.
    Setting("notifications.sns_topic_arn", None, "str"),
    Setting("notifications.region", None, "str"),
    Setting("notifications.endpoint_url", None, "str"),
    # CloudWatch metrics; the namespace is the one the failover_iam role allows.
    Setting("cloudwatch.enabled", False, "bool"),
    Setting("cloudwatch.namespace", "LocalZonesFailover", "str"),
    Setting("cloudwatch.interval_s", 60, "float"),
    Setting("cloudwatch.failover_group", "lz-failover", "str"),
    Setting("cloudwatch.timeout_s", 5, "float"),
    Setting("cloudwatch.region", None, "str"),
    Setting("cloudwatch.endpoint_url", None, "str"),
    # Monitors in pairs: one writer per failover group through a lease in a DynamoDB table
    # (coordination/lease.py). No table: one monitor, no coordination. failover_group: the
    # value of cloudwatch.failover_group; monitor_id: the host name; region, endpoint_url:
    # the daemon's own. Worst-case takeover: lease_s + renew_interval_s (+ skew) after the
    # holder's last renewal.
    Setting("coordination.table", None, "str"),
    Setting("coordination.failover_group", None, "str"),
    Setting("coordination.monitor_id", None, "str"),
    Setting("coordination.lease_s", 8, "float"),
    Setting("coordination.renew_interval_s", 1, "float"),
    Setting("coordination.max_clock_skew_s", 1, "float"),
    Setting("coordination.region", None, "str"),
    Setting("coordination.endpoint_url", None, "str"),
    # Files and logging.
    Setting("state_file", "/var/lib/lz-failover-monitor/state.json", "str"),
    Setting("log_level", "info", "str"),
)

_BY_KEY = {setting.key: setting for setting in SETTINGS}

# Lower bounds of the cadences (seconds). A round costs CPU whatever its length: at a
# 1e-6 s interval the loop used 96% of a core and, its rounds overrunning their
# timeouts, failed over with a healthy target. The fastest cadence the benchmarks
# measured and found sound is 0.05 s (benchmarks/README.md, detection trade-off); the
# bounds leave room below it (0.02 s: 50 rounds a second) and keep the defaults
# (0.1 / 0.1 s, and 1.0 / 0.5 s for the VPN path check) valid. A timeout under 10 ms
# would count ordinary scheduling jitter as loss. The VPN path check is the slow,
# debounced one: 0.1 s is already ten times its default rate.
MINIMUMS = {
    "probe.interval": 0.02,
    "probe.timeout": 0.01,
    "vpn_check.interval": 0.1,
    "vpn_check.timeout": 0.01,
}


def minimum(key):
    """The lower bound of the setting at the dotted ``key`` (None when it has none here)."""
    return MINIMUMS.get(key)


def default(key):
    """The default of the setting at the dotted ``key`` (REQUIRED when the file must give it)."""
    return _BY_KEY[key].default
