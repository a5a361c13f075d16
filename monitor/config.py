# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's YAML configuration: schema, defaults and validation with key paths.

``load_config(path)`` returns a frozen ``MonitorConfig`` or raises ``ValidationError``
whose ``problems`` name every mistake with its key path, e.g.
``probe.targets[1]: '300.1.1.1' is not an IP address``. Unknown keys are mistakes too,
so a typo never silently falls back to a default. Syntax checks of IDs and CIDRs and
the range checks of the policy come from the collection's core, so the daemon and the
modules accept exactly the same values. Every default comes from the policy's one table
(``plugins/module_utils/policy/defaults.py``), which the monitor role is tested against.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import dataclasses
import functools
import socket
from dataclasses import dataclass

import yaml

from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import settings_problems as lease_settings_problems
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import REQUIRED
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import default
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import minimum
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PolicySettings
from ansible_collections.localzones.failover.plugins.module_utils import probing
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import echoes_problem
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import ip_version
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import other_family_targets
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import quorum_exceeds_targets
from ansible_collections.localzones.failover.plugins.module_utils.validation import cidr_problem
from ansible_collections.localzones.failover.plugins.module_utils.validation import is_int
from ansible_collections.localzones.failover.plugins.module_utils.validation import is_number
from ansible_collections.localzones.failover.plugins.module_utils.validation import normalize_cidr
from ansible_collections.localzones.failover.plugins.module_utils.validation import probe_table_positions
from ansible_collections.localzones.failover.plugins.module_utils.validation import ROUTE_STRATEGIES
from ansible_collections.localzones.failover.plugins.module_utils.validation import resource_id_problem
from ansible_collections.localzones.failover.plugins.module_utils.validation import route_strategy_problems

MAX_PROBE_TARGETS = 16
LOG_LEVELS = ("debug", "info", "warning", "error")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
# CloudWatch's own rule for namespaces: ASCII letters, digits and . - _ / # : or space, at
# most 255 ("AWS/" is reserved for AWS services). The group name (a dimension value) keeps
# to the same characters so it reads the same in metrics, alarm names and dashboards.
_CLOUDWATCH_NAME = re.compile(r"^[0-9A-Za-z.\-_/#: ]{1,255}$")
MIN_CLOUDWATCH_INTERVAL_S = 10
# DynamoDB's rule for table names.
_DYNAMODB_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# A monitor's ID is part of its item's sort key (monitor#<id>) and of log lines: a host-name-like word.
_MONITOR_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


# --------------------------------------------------------------------------- the validated result


@dataclass(frozen=True)
class ProbeConfig:
    targets: tuple
    interval: float
    timeout: float
    echoes: int
    source: str
    privileged: bool
    min_healthy_targets: int
    max_rtt_ms: float
    kind: str


@dataclass(frozen=True)
class VpnCheckConfig:
    enabled: bool
    targets: tuple
    interval: float
    timeout: float
    source: str
    min_healthy_targets: int
    unhealthy_after_rounds: int
    healthy_after_rounds: int


@dataclass(frozen=True)
class ApiConfig:
    max_attempts: int
    connect_timeout_s: float
    read_timeout_s: float
    retry_backoff_max_s: float
    max_parallel_calls: int
    mutating_rate_per_s: float
    mutating_burst: int


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool
    address: str
    port: int
    allow_remote: bool


@dataclass(frozen=True)
class NotificationsConfig:
    sns_topic_arn: str
    region: str
    endpoint_url: str


@dataclass(frozen=True)
class CloudWatchConfig:
    enabled: bool
    namespace: str
    interval_s: float
    failover_group: str
    timeout_s: float
    region: str
    endpoint_url: str


@dataclass(frozen=True)
class CoordinationConfig:
    """The lease settings; ``table`` None: no coordination. Defaults already resolved (group, id, region, endpoint)."""

    table: str
    failover_group: str
    monitor_id: str
    lease_s: float
    renew_interval_s: float
    max_clock_skew_s: float
    region: str
    endpoint_url: str

    @property
    def enabled(self):
        return self.table is not None


@dataclass(frozen=True)
class MonitorConfig:  # pylint: disable=too-many-instance-attributes
    """Everything the daemon runs on; every value already checked and defaulted."""

    region: str
    endpoint_url: str
    route_table_ids: tuple
    destination_cidrs: tuple
    vpn_eni_id: str
    probe_route_table_id: str
    route_strategy: str
    prefix_list_id: str
    routes_per_table_quota: int
    probe: ProbeConfig
    policy: PolicySettings
    vpn_check: VpnCheckConfig
    reconcile_interval_s: float
    status_interval_s: float
    api: ApiConfig
    metrics: MetricsConfig
    notifications: NotificationsConfig
    cloudwatch: CloudWatchConfig
    coordination: CoordinationConfig
    state_file: str
    log_level: str

    def route_settings(self):
        """What the actuator needs; a change here means re-reading the route tables."""
        return (
            self.region, self.endpoint_url, self.route_table_ids, self.destination_cidrs, self.vpn_eni_id, self.probe_route_table_id,
            self.route_strategy, self.prefix_list_id, self.routes_per_table_quota, self.api,
        )

    def summary(self):
        """A few lines for ``--check-config`` and the start-up log."""
        ipv6 = sum(1 for cidr in self.destination_cidrs if ":" in cidr)
        vpn = "VPN path check off"
        cloudwatch = "CloudWatch metrics off"
        if self.cloudwatch.enabled:
            settings = self.cloudwatch
            cloudwatch = "CloudWatch metrics to %s (group %s) every %g s" % (settings.namespace, settings.failover_group, settings.interval_s)
        if self.vpn_check.enabled:
            vpn = "VPN path check on %d target(s) every %g s" % (len(self.vpn_check.targets), self.vpn_check.interval)
        tables = ", ".join(self.route_table_ids)
        return [
            "region %s%s" % (self.region, ", endpoint %s" % self.endpoint_url if self.endpoint_url else ""),
            "%d route table(s): %s; probe route table %s (never modified)" % (len(self.route_table_ids), tables, self.probe_route_table_id or "not set"),
            "%d destination(s) (%d IPv6): %s -> %s, route strategy %s%s"
            % (len(self.destination_cidrs), ipv6, ", ".join(self.destination_cidrs), self.vpn_eni_id, self.route_strategy,
               " (prefix list %s)" % self.prefix_list_id if self.prefix_list_id else ""),
            "%d probe target(s), %d echo(es) each every %g s (timeout %g s), %s"
            % (len(self.probe.targets), self.probe.echoes, self.probe.interval, self.probe.timeout, vpn),
            "hard failure after %d rounds, failback hold %g s, reconcile every %g s"
            % (self.policy.hard_failure_rounds, self.policy.failback_hold_s, self.reconcile_interval_s),
            cloudwatch,
        ] + self._coordination_summary()

    def _coordination_summary(self):
        """A line with a coordination table; none without one (the monitor is the only writer, as before)."""
        settings = self.coordination
        if not settings.enabled:
            return []
        return ["coordination: lease in DynamoDB table %s, group %s, monitor %s, lease %g s renewed every %g s" % (
            settings.table, settings.failover_group, settings.monitor_id, settings.lease_s, settings.renew_interval_s,
        )]


# --------------------------------------------------------------------------- value checkers
#
# A checker takes (value, path, problems), appends "path: why" for each mistake and
# returns the converted value (None when the value is unusable).


_MISSING = object()  # a key the file does not give


_TYPE_NAMES = {type(None): "null", bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}


def _type_name(value):
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def optional(checker):
    def check(value, path, problems):
        return None if value is None else checker(value, path, problems)
    return check


def integer(minimum=None, maximum=None):
    def check(value, path, problems):
        if not is_int(value):
            problems.append("%s: must be an integer, got %s %r" % (path, _type_name(value), value))
            return None
        if maximum is not None and not minimum <= value <= maximum:
            problems.append("%s: must be between %s and %s, got %d" % (path, minimum, maximum, value))
            return None
        if minimum is not None and value < minimum:
            problems.append("%s: must be >= %s, got %d" % (path, minimum, value))
            return None
        return value
    return check


def number(positive=False, maximum=None, at_least=None):
    """A finite number (``at_least``: its lower bound); the policy's own ranges are left to PolicySettings."""
    def check(value, path, problems):
        if not is_number(value):
            problems.append("%s: must be a number, got %s %r" % (path, _type_name(value), value))
            return None
        if positive and value <= 0:
            problems.append("%s: must be > 0, got %r" % (path, value))
            return None
        if at_least is not None and value < at_least:
            problems.append("%s: must be >= %g s, got %r" % (path, at_least, value))
            return None
        if maximum is not None and value > maximum:
            problems.append("%s: must be <= %s, got %r" % (path, maximum, value))
            return None
        return float(value) if isinstance(value, float) else value
    return check


def boolean(value, path, problems):
    if not isinstance(value, bool):
        problems.append("%s: must be true or false, got %s %r" % (path, _type_name(value), value))
        return None
    return value


def text(pattern=None, what=None):
    def check(value, path, problems):
        if not isinstance(value, str) or not value.strip():
            problems.append("%s: must be a non-empty string, got %s %r" % (path, _type_name(value), value))
            return None
        if pattern is not None and not pattern.match(value):
            problems.append("%s: %r is not %s" % (path, value, what))
            return None
        return value
    return check


def choice(values):
    def check(value, path, problems):
        if value not in values:
            problems.append("%s: must be one of %s, got %r" % (path, ", ".join(values), value))
            return None
        return value
    return check


def ip_address(value, path, problems):
    try:
        return str(ipaddress.ip_address(value.strip() if isinstance(value, str) else value))
    except ValueError:
        problems.append("%s: %r is not an IP address" % (path, value))
        return None


def absolute_path(value, path, problems):
    if not isinstance(value, str) or not os.path.isabs(value):
        problems.append("%s: must be an absolute file path, got %r" % (path, value))
        return None
    return os.path.normpath(value)


def core_checked(problem_of, normalize=None):
    """A value the collection's core checks, so the daemon and the modules accept the same ones.

    ``problem_of(value)`` says what is wrong (None when nothing is); ``normalize``, when
    given, turns a good value into its canonical form.
    """
    def check(value, path, problems):
        problem = problem_of(value)
        if problem:
            problems.append("%s: %s" % (path, problem))
            return None
        return normalize(value) if normalize else value
    return check


def resource_id(kind):
    """An EC2 resource ID of ``kind`` ("route table", "network interface")."""
    return core_checked(functools.partial(resource_id_problem, kind))


# A kind of prober the core knows (kind_problem reads the registry on every call, so every registered kind counts).
probe_kind = core_checked(probing.kind_problem)
# Echoes per target per round, within the bounds every prober accepts.
probe_echoes = core_checked(echoes_problem)
cidr = core_checked(cidr_problem, normalize_cidr)


def list_of(item_checker, minimum=0, maximum=None):
    """A list of unique items (compared after conversion, so 2001:DB8::1 equals 2001:db8::1)."""
    def check(value, path, problems):
        if not isinstance(value, list):
            problems.append("%s: must be a list, got %s %r" % (path, _type_name(value), value))
            return None
        if len(value) < minimum or (maximum is not None and len(value) > maximum):
            bounds = "%d to %d" % (minimum, maximum) if maximum is not None else "at least %d" % minimum
            problems.append("%s: must list %s item(s), got %d" % (path, bounds, len(value)))
        items, first_index = [], {}
        for index, item in enumerate(value):
            converted = item_checker(item, "%s[%d]" % (path, index), problems)
            if converted is None:
                continue
            if converted in first_index:
                problems.append("%s[%d]: %s is listed twice (also at %s[%d])" % (path, index, converted, path, first_index[converted]))
                continue
            first_index[converted] = index
            items.append(converted)
        return tuple(items)
    return check


# --------------------------------------------------------------------------- the schema

# name -> (default, checker); defaults come from the policy's table (REQUIRED: the file must give it).
# Sections are dicts of the same, with {} (all defaults) or REQUIRED as their default.

PROBE_SCHEMA = {
    "targets": (default("probe.targets"), list_of(ip_address, 1, MAX_PROBE_TARGETS)),
    "interval": (default("probe.interval"), number(positive=True, at_least=minimum("probe.interval"))),
    "timeout": (default("probe.timeout"), number(positive=True, at_least=minimum("probe.timeout"))),
    "echoes": (default("probe.echoes"), probe_echoes),
    "source": (default("probe.source"), optional(ip_address)),
    "privileged": (default("probe.privileged"), boolean),
    "min_healthy_targets": (default("probe.min_healthy_targets"), integer()),
    "max_rtt_ms": (default("probe.max_rtt_ms"), optional(number())),
    "kind": (default("probe.kind"), probe_kind),
}

# PolicySettings fields except the two that live under probe; PolicySettings checks the ranges.
POLICY_SCHEMA = {
    "hard_failure_rounds": (default("policy.hard_failure_rounds"), integer()),
    "brownout_window_s": (default("policy.brownout_window_s"), number()),
    "brownout_loss_pct": (default("policy.brownout_loss_pct"), number()),
    "brownout_max_rtt_ms": (default("policy.brownout_max_rtt_ms"), optional(number())),
    "brownout_min_window_fraction": (default("policy.brownout_min_window_fraction"), number()),
    "failback_hold_s": (default("policy.failback_hold_s"), number()),
    "dampening_window_s": (default("policy.dampening_window_s"), number()),
    "dampening_max_hold_s": (default("policy.dampening_max_hold_s"), number()),
}

VPN_CHECK_SCHEMA = {
    "enabled": (default("vpn_check.enabled"), boolean),
    "targets": (default("vpn_check.targets"), list_of(ip_address, 0, MAX_PROBE_TARGETS)),
    "interval": (default("vpn_check.interval"), number(positive=True, at_least=minimum("vpn_check.interval"))),
    "timeout": (default("vpn_check.timeout"), number(positive=True, at_least=minimum("vpn_check.timeout"))),
    "source": (default("vpn_check.source"), optional(ip_address)),
    "min_healthy_targets": (default("vpn_check.min_healthy_targets"), integer(1)),
    "unhealthy_after_rounds": (default("vpn_check.unhealthy_after_rounds"), integer(1)),
    "healthy_after_rounds": (default("vpn_check.healthy_after_rounds"), integer(1)),
}

API_SCHEMA = {
    "max_attempts": (default("api.max_attempts"), integer(1, 20)),
    "connect_timeout_s": (default("api.connect_timeout_s"), number(positive=True)),
    "read_timeout_s": (default("api.read_timeout_s"), number(positive=True)),
    "retry_backoff_max_s": (default("api.retry_backoff_max_s"), number(positive=True)),
    "max_parallel_calls": (default("api.max_parallel_calls"), integer(1, 32)),
    "mutating_rate_per_s": (default("api.mutating_rate_per_s"), number(positive=True, maximum=1000)),
    "mutating_burst": (default("api.mutating_burst"), integer(1, 1000)),
}

METRICS_SCHEMA = {
    "enabled": (default("metrics.enabled"), boolean),
    "address": (default("metrics.address"), ip_address),
    "port": (default("metrics.port"), integer(1, 65535)),
    "allow_remote": (default("metrics.allow_remote"), boolean),
}

NOTIFICATIONS_SCHEMA = {
    "sns_topic_arn": (default("notifications.sns_topic_arn"), optional(text(_SNS_TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"))),
    "region": (default("notifications.region"), optional(text(_REGION, "an AWS region name such as us-east-1"))),
    "endpoint_url": (default("notifications.endpoint_url"), optional(text(_URL, "an http:// or https:// URL"))),
}

CLOUDWATCH_SCHEMA = {
    "enabled": (default("cloudwatch.enabled"), boolean),
    "namespace": (default("cloudwatch.namespace"), text(_CLOUDWATCH_NAME, "a CloudWatch namespace (up to 255 of A-Z a-z 0-9 . - _ / # : and space)")),
    "interval_s": (default("cloudwatch.interval_s"), number(positive=True)),
    "failover_group": (default("cloudwatch.failover_group"), text(_CLOUDWATCH_NAME, "a failover group name (up to 255 of A-Z a-z 0-9 . - _ / # : and space)")),
    "timeout_s": (default("cloudwatch.timeout_s"), number(positive=True)),
    "region": (default("cloudwatch.region"), optional(text(_REGION, "an AWS region name such as us-east-1"))),
    "endpoint_url": (default("cloudwatch.endpoint_url"), optional(text(_URL, "an http:// or https:// URL"))),
}

COORDINATION_SCHEMA = {
    "table": (default("coordination.table"), optional(text(_DYNAMODB_TABLE, "a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)"))),
    "failover_group": (
        default("coordination.failover_group"), optional(text(_CLOUDWATCH_NAME, "a failover group name (up to 255 of A-Z a-z 0-9 . - _ / # : and space)")),
    ),
    "monitor_id": (default("coordination.monitor_id"), optional(text(_MONITOR_ID, "a monitor ID (up to 128 of A-Z a-z 0-9 _ . : -)"))),
    "lease_s": (default("coordination.lease_s"), number(positive=True, maximum=300)),
    "renew_interval_s": (default("coordination.renew_interval_s"), number(positive=True)),
    "max_clock_skew_s": (default("coordination.max_clock_skew_s"), number()),
    "region": (default("coordination.region"), optional(text(_REGION, "an AWS region name such as us-east-1"))),
    "endpoint_url": (default("coordination.endpoint_url"), optional(text(_URL, "an http:// or https:// URL"))),
}

SCHEMA = {
    "region": (default("region"), text(_REGION, "an AWS region name such as us-east-1")),
    "endpoint_url": (default("endpoint_url"), optional(text(_URL, "an http:// or https:// URL"))),
    "route_table_ids": (default("route_table_ids"), list_of(resource_id("route table"), 1)),
    "destination_cidrs": (default("destination_cidrs"), list_of(cidr, 1)),
    "vpn_eni_id": (default("vpn_eni_id"), resource_id("network interface")),
    "probe_route_table_id": (default("probe_route_table_id"), optional(resource_id("route table"))),
    "route_strategy": (default("route_strategy"), choice(ROUTE_STRATEGIES)),
    "prefix_list_id": (default("prefix_list_id"), optional(resource_id("prefix list"))),
    "routes_per_table_quota": (default("routes_per_table_quota"), integer(1, 10000)),
    "probe": (REQUIRED, PROBE_SCHEMA),
    "policy": ({}, POLICY_SCHEMA),
    "vpn_check": ({}, VPN_CHECK_SCHEMA),
    "reconcile_interval_s": (default("reconcile_interval_s"), number(positive=True)),
    "status_interval_s": (default("status_interval_s"), number(positive=True)),
    "api": ({}, API_SCHEMA),
    "metrics": ({}, METRICS_SCHEMA),
    "notifications": ({}, NOTIFICATIONS_SCHEMA),
    "cloudwatch": ({}, CLOUDWATCH_SCHEMA),
    "coordination": ({}, COORDINATION_SCHEMA),
    "state_file": (default("state_file"), absolute_path),
    "log_level": (default("log_level"), choice(LOG_LEVELS)),
}


def _join(prefix, name):
    return "%s.%s" % (prefix, name) if prefix else name


def check_section(document, schema, prefix, problems):
    """Apply ``schema`` to a mapping; return ``{name: converted value}`` (None for bad values)."""
    if document is None:
        document = {}  # an empty section in YAML ("policy:") means all defaults
    if not isinstance(document, dict):
        problems.append("%s: must be a mapping, got %s %r" % (prefix or "the configuration", _type_name(document), document))
        document = {}
    values = {}
    for name in document:
        if name not in schema:
            problems.append("%s: unknown key (allowed here: %s)" % (_join(prefix, str(name)), ", ".join(schema)))
    for name, (fallback, checker) in schema.items():
        path = _join(prefix, name)
        value = document.get(name, _MISSING)
        if value is _MISSING:
            if fallback is REQUIRED:
                problems.append("%s: required key is missing" % path)
                values[name] = None
                continue
            value = fallback
        if isinstance(checker, dict):
            values[name] = check_section(value, checker, path, problems)
        else:
            values[name] = checker(value, path, problems)
    return values


# --------------------------------------------------------------------------- checks across keys
#
# The rules are the core's (probing.base, validation), the same the modules apply; only
# the words are the daemon's own, naming key paths and indices of the file.


def _family_problems(raw_targets, source, path, problems):
    """Targets must share the source's address family; indices are those of the file."""
    if source is None or not isinstance(raw_targets, list):
        return
    version = ip_version(source)
    # Entries that are not IP addresses are passed over: they are already reported as such.
    for index, target in other_family_targets(raw_targets, version):
        why = "is not IPv%d like %s.source %s; probe each address family from its own source" % (version, path, source)
        problems.append("%s.targets[%d]: %s %s" % (path, index, target, why))


def _timing_problems(section, path, problems):
    if section["interval"] is not None and section["timeout"] is not None and section["timeout"] > section["interval"]:
        problems.append("%s.timeout: must be <= %s.interval (%g s), got %g s" % (path, path, section["interval"], section["timeout"]))


def _quorum_problems(section, path, problems):
    targets, needed = section["targets"], section["min_healthy_targets"]
    if quorum_exceeds_targets(needed, targets):
        problems.append("%s.min_healthy_targets: is %d but %s.targets lists only %d" % (path, needed, path, len(targets)))


def _raw(document, *keys):
    """The value at ``keys`` as written in the file, or None."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _probe_problems(document, values, problems):
    probe = values["probe"]
    if probe is None:
        return
    _timing_problems(probe, "probe", problems)
    _quorum_problems(probe, "probe", problems)
    _family_problems(_raw(document, "probe", "targets"), probe["source"], "probe", problems)


def _vpn_check_problems(document, values, problems):
    vpn = values["vpn_check"]
    _timing_problems(vpn, "vpn_check", problems)
    _quorum_problems(vpn, "vpn_check", problems)
    _family_problems(_raw(document, "vpn_check", "targets"), vpn["source"], "vpn_check", problems)
    if vpn["enabled"] and vpn["targets"] is not None and not vpn["targets"]:
        problems.append("vpn_check.targets: must list at least one address when vpn_check.enabled is true")


def _cloudwatch_problems(values, problems):
    """Limits that keep publishing cheap and its worst case bounded (see cloudwatch.py)."""
    cloudwatch = values["cloudwatch"]
    interval, timeout, namespace = cloudwatch["interval_s"], cloudwatch["timeout_s"], cloudwatch["namespace"]
    if interval is not None and interval < MIN_CLOUDWATCH_INTERVAL_S:
        problems.append("cloudwatch.interval_s: must be >= %d (seconds between PutMetricData calls), got %r" % (MIN_CLOUDWATCH_INTERVAL_S, interval))
    elif interval is not None and timeout is not None and timeout > interval / 2.0:
        problems.append("cloudwatch.timeout_s: must be <= half of cloudwatch.interval_s (%g s), got %g s" % (interval / 2.0, timeout))
    if namespace is not None and namespace.startswith("AWS/"):
        problems.append("cloudwatch.namespace: %r starts with AWS/, which is reserved for AWS services" % namespace)


def _coordination_problems(values, problems):
    """The lease's timing rules (coordination.lease.settings_problems); the call margin is api.connect_timeout_s."""
    coordination, api = values["coordination"], values["api"]
    skew = coordination["max_clock_skew_s"]
    if skew is not None and skew < 0:
        problems.append("coordination.max_clock_skew_s: must be >= 0, got %r" % skew)
        return
    if coordination["table"] is None:
        return  # no lease: its timings are unused, and api.connect_timeout_s stays as free as before
    problems.extend(lease_settings_problems(coordination["lease_s"], coordination["renew_interval_s"], skew, api["connect_timeout_s"]))


def _metrics_problems(values, problems):
    """The endpoint has no authentication, so it listens beyond the host only when told to."""
    metrics = values["metrics"]
    address = metrics["address"]
    if address is None or metrics["allow_remote"] is not False:
        return
    if not ipaddress.ip_address(address).is_loopback:
        problems.append(
            "metrics.address: %s is not a loopback address; the metrics endpoint has no authentication, so set "
            "metrics.allow_remote: true to serve it beyond this host (and restrict who reaches the port)" % address
        )


def _probe_table_problems(document, values, problems):
    probe_rtb, raw_tables = values["probe_route_table_id"], _raw(document, "route_table_ids")
    if probe_rtb is None or not isinstance(raw_tables, list):
        return
    for index in probe_table_positions(raw_tables, probe_rtb):
        problems.append(
            "route_table_ids[%d]: %s is the probe_route_table_id; the utility subnet's route table must keep following "
            "Direct Connect so the probes measure it, so it is never modified" % (index, probe_rtb)
        )


def _route_strategy_problems(document, values, problems):
    """``prefix_list`` needs prefix_list_id and ``per_route`` refuses one (the core's rule, as the modules apply it)."""
    strategy, prefix_list_id = values["route_strategy"], values["prefix_list_id"]
    if strategy is None or (prefix_list_id is None and _raw(document, "prefix_list_id") is not None):
        return  # already reported as a bad value of its own
    problems.extend(route_strategy_problems(strategy, prefix_list_id))


def _policy_settings(values, problems):
    """Build PolicySettings and report its range problems under their key paths.

    A value that already failed its type check is replaced by its default for this
    step, so the other values are still range-checked in the same pass.
    """
    probe = values["probe"] or {}
    fields = dict(values["policy"], min_healthy_targets=probe.get("min_healthy_targets"), max_rtt_ms=probe.get("max_rtt_ms"))
    substituted = set()
    for name, value in fields.items():
        default = getattr(PolicySettings, name)
        if value is None and default is not None:
            fields[name] = default
            substituted.add(name)
    settings = PolicySettings(**fields)
    for problem in settings.problems():
        name, _sep, why = problem.partition(": ")
        if name == "dampening_max_hold_s" and "failback_hold_s" in substituted:
            continue  # compared with a stand-in value, not the configured one
        section = "probe" if name in ("min_healthy_targets", "max_rtt_ms") else "policy"
        problems.append("%s.%s: %s" % (section, name, why))
    return settings


def validate_document(document):
    """Validate a parsed YAML document; return MonitorConfig or raise ValidationError (every problem)."""
    problems = []
    values = check_section(document, SCHEMA, "", problems)
    _probe_problems(document, values, problems)
    _vpn_check_problems(document, values, problems)
    _probe_table_problems(document, values, problems)
    _route_strategy_problems(document, values, problems)
    _cloudwatch_problems(values, problems)
    _coordination_problems(values, problems)
    _metrics_problems(values, problems)
    policy = _policy_settings(values, problems)
    if problems:
        raise ValidationError(problems)
    return _monitor_config(values, policy)


# Each section of the file and the frozen dataclass it becomes (same field names as its schema).
_SECTION_TYPES = {
    "probe": ProbeConfig,
    "vpn_check": VpnCheckConfig,
    "api": ApiConfig,
    "metrics": MetricsConfig,
    "notifications": NotificationsConfig,
    "cloudwatch": CloudWatchConfig,
    "coordination": CoordinationConfig,
}


def _monitor_config(values, policy):
    """MonitorConfig from checked values: every top-level key of SCHEMA is one of its fields, by name."""
    fields = dict(values, policy=policy)
    for name, section_type in _SECTION_TYPES.items():
        fields[name] = section_type(**values[name])
    # Notifications and CloudWatch go to the daemon's own region unless the file names another.
    for name in ("notifications", "cloudwatch"):
        fields[name] = dataclasses.replace(fields[name], region=fields[name].region or values["region"])
    coordination = fields["coordination"]
    if coordination.enabled:
        # Resolved only with a table, so a monitor without one is configured exactly as before.
        fields["coordination"] = _resolved_coordination(coordination, fields, values)
    return MonitorConfig(**fields)


def _resolved_coordination(coordination, fields, values):
    """The coordination section with its null defaults taken from the rest of the file and the host."""
    return dataclasses.replace(
        coordination,
        failover_group=coordination.failover_group or fields["cloudwatch"].failover_group,
        monitor_id=coordination.monitor_id or socket.gethostname(),
        region=coordination.region or values["region"],
        endpoint_url=coordination.endpoint_url or values["endpoint_url"],
    )


# --------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, "key %r is given twice (also on line %d)" % (key, seen[key] + 1), key_node.start_mark
                )
            if isinstance(key, str):
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text, source="<config>"):
    """Parse YAML text; a syntax error becomes a ValidationError naming the line."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise ValidationError("%s: not valid YAML: %s" % (source, " ".join(str(exc).split()))) from exc
    if document is None:
        raise ValidationError("%s: the configuration is empty" % source)
    return document


def ownership_problem(path, status, euid=None):
    """Why the file with ``status`` (an os.stat result) may not configure the daemon; None when it may.

    The configuration decides which routes the daemon changes, so only root or the
    daemon's own user may be able to change it (the role installs it root-owned, 0640).
    """
    euid = os.geteuid() if euid is None else euid
    if not stat.S_ISREG(status.st_mode):
        return "%s: the configuration must be a regular file" % path
    mode = stat.S_IMODE(status.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "%s: the configuration is writable by %s (mode %04o); make it 0600 or 0640 (chmod go-w)" % (
            path, "group and others" if mode & stat.S_IWGRP and mode & stat.S_IWOTH else "group" if mode & stat.S_IWGRP else "others", mode)
    if status.st_uid not in (0, euid):
        return "%s: the configuration is owned by uid %d (mode %04o), neither root nor this process's user (uid %d)" % (
            path, status.st_uid, mode, euid)
    return None


def load_config(path):
    """Read, parse and validate the configuration file at ``path`` (refused when others could have changed it)."""
    try:
        # O_NONBLOCK: a FIFO at the path is refused below instead of blocking the open.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), encoding="utf-8") as handle:
            problem = ownership_problem(path, os.fstat(handle.fileno()))
            if problem:
                raise ValidationError(problem)
            text_content = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("%s: cannot read the configuration: %s" % (path, exc)) from exc
    return validate_document(parse_yaml(text_content, path))
