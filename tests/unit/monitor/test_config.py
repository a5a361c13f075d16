# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's configuration: schema, defaults, and every problem reported with its key path."""

from __future__ import annotations

import copy
import textwrap

import pytest

from lz_failover_monitor.config import SCHEMA
from lz_failover_monitor.config import load_config
from lz_failover_monitor.config import parse_yaml
from lz_failover_monitor.config import validate_document
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import SETTINGS
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PolicySettings
from tests.support.monitor_configs import FULL_YAML

RTB = "rtb-0123456789abcdef0"
PROBE_RTB = "rtb-0fedcba9876543210"
ENI = "eni-0123456789abcdef0"

MINIMAL = {
    "region": "us-east-1",
    "route_table_ids": [RTB],
    "destination_cidrs": ["198.19.0.0/24", "2001:db8:100::/56"],
    "vpn_eni_id": ENI,
    "probe": {"targets": ["198.19.0.10"]},
}


def with_changes(**changes):
    """MINIMAL with top-level keys replaced; a dict value for a section is merged into it."""
    document = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key].update(value)
        else:
            document[key] = value
    return document


def problems_of(document):
    with pytest.raises(ValidationError) as caught:
        validate_document(document)
    return caught.value.problems


def test_minimal_configuration_gets_the_documented_defaults():
    config = validate_document(MINIMAL)
    assert config.probe.interval == 0.1 and config.probe.timeout == 0.1 and config.probe.privileged is True
    assert config.probe.echoes == 2 and config.policy.hard_failure_rounds == 4
    assert config.policy == PolicySettings()
    assert config.vpn_check.enabled is False and config.vpn_check.targets == ()
    assert config.reconcile_interval_s == 30 and config.status_interval_s == 10
    assert (config.api.max_attempts, config.api.connect_timeout_s, config.api.read_timeout_s, config.api.retry_backoff_max_s) == (1, 3, 5, 10)
    assert (config.api.max_parallel_calls, config.api.mutating_rate_per_s, config.api.mutating_burst) == (8, 5.0, 50)
    assert (config.metrics.enabled, config.metrics.address, config.metrics.port) == (True, "127.0.0.1", 9190)
    assert config.notifications.region == "us-east-1", "notifications.region defaults to region"
    cloudwatch = config.cloudwatch
    assert (cloudwatch.enabled, cloudwatch.namespace, cloudwatch.interval_s, cloudwatch.failover_group, cloudwatch.timeout_s) == (
        False, "LocalZonesFailover", 60, "lz-failover", 5,
    )
    assert cloudwatch.region == "us-east-1" and cloudwatch.endpoint_url is None, "cloudwatch.region defaults to region"
    assert config.state_file == "/var/lib/lz-failover-monitor/state.json" and config.log_level == "info"
    assert config.endpoint_url is None and config.probe_route_table_id is None


def schema_defaults(schema, prefix=""):
    """``{dotted key: default}`` of every key the schema checks (sections are walked, not listed)."""
    defaults = {}
    for name, (default, checker) in schema.items():
        key = "%s.%s" % (prefix, name) if prefix else name
        defaults.update(schema_defaults(checker, key) if isinstance(checker, dict) else {key: default})
    return defaults


def test_every_key_of_the_schema_takes_its_default_from_the_policy_table():
    assert schema_defaults(SCHEMA) == {setting.key: setting.default for setting in SETTINGS}


def test_the_full_schema_with_its_defaults_equals_the_minimal_one():
    assert validate_document(parse_yaml(FULL_YAML)) == validate_document(MINIMAL)


def test_values_are_normalized():
    config = validate_document(with_changes(destination_cidrs=["2001:DB8:100::/56"], probe={"targets": ["2001:DB8::10"]}))
    assert config.destination_cidrs == ("2001:db8:100::/56",)
    assert config.probe.targets == ("2001:db8::10",)


def test_policy_values_reach_the_state_machine_settings():
    config = validate_document(with_changes(policy={"failback_hold_s": 3, "dampening_max_hold_s": 3}, probe={"min_healthy_targets": 1, "max_rtt_ms": 50}))
    assert config.policy.failback_hold_s == 3 and config.policy.dampening_max_hold_s == 3 and config.policy.max_rtt_ms == 50


def test_empty_sections_mean_defaults():
    config = validate_document(with_changes(policy=None, api=None, metrics=None))
    assert config.policy == PolicySettings() and config.api.max_attempts == 1


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"region": "US East"}, "region: 'US East' is not an AWS region name such as us-east-1"),
        ({"endpoint_url": "localhost:5000"}, "endpoint_url: 'localhost:5000' is not an http:// or https:// URL"),
        ({"route_table_ids": []}, "route_table_ids: must list at least 1 item(s), got 0"),
        ({"route_table_ids": "rtb-0123456789abcdef0"}, "route_table_ids: must be a list, got a string 'rtb-0123456789abcdef0'"),
        ({"route_table_ids": [RTB, "rtb-xyz"]}, "route_table_ids[1]: 'rtb-xyz' is not a valid route table ID (expected the form rtb-0123456789abcdef0)"),
        ({"route_table_ids": [RTB, RTB]}, "route_table_ids[1]: %s is listed twice (also at route_table_ids[0])" % RTB),
        ({"destination_cidrs": ["198.19.0.1/24"]}, "destination_cidrs[0]: '198.19.0.1/24' has host bits set; did you mean 198.19.0.0/24?"),
        ({"destination_cidrs": ["198.19.0.0/24", "10.0.0.0"]}, "destination_cidrs[1]: '10.0.0.0' is not a CIDR block"),
        ({"vpn_eni_id": "eni-1"}, "vpn_eni_id: 'eni-1' is not a valid network interface ID (expected the form eni-0123456789abcdef0)"),
        ({"probe_route_table_id": "rtb-1"}, "probe_route_table_id: 'rtb-1' is not a valid route table ID"),
        ({"probe": {"targets": []}}, "probe.targets: must list 1 to 16 item(s), got 0"),
        ({"probe": {"targets": ["198.19.0.%d" % host for host in range(17)]}}, "probe.targets: must list 1 to 16 item(s), got 17"),
        ({"probe": {"targets": ["198.19.0.10", "300.1.1.1"]}}, "probe.targets[1]: '300.1.1.1' is not an IP address"),
        ({"probe": {"targets": ["198.19.0.10", "onprem.example"]}}, "probe.targets[1]: 'onprem.example' is not an IP address"),
        ({"probe": {"targets": ["2001:db8::1", "2001:DB8::1"]}}, "probe.targets[1]: 2001:db8::1 is listed twice (also at probe.targets[0])"),
        ({"probe": {"interval": "0.1"}}, "probe.interval: must be a number, got a string '0.1'"),
        ({"probe": {"interval": 0}}, "probe.interval: must be > 0, got 0"),
        ({"probe": {"timeout": 0.2}}, "probe.timeout: must be <= probe.interval (0.1 s), got 0.2 s"),
        ({"probe": {"echoes": 11}}, "probe.echoes: must be an integer from 1 to 10 (echoes to each target per round), got 11"),
        ({"probe": {"echoes": 1.5}}, "probe.echoes: must be an integer from 1 to 10 (echoes to each target per round), got 1.5"),
        ({"probe": {"echoes": True}}, "probe.echoes: must be an integer from 1 to 10 (echoes to each target per round), got True"),
        ({"probe": {"privileged": "yes please"}}, "probe.privileged: must be true or false, got a string 'yes please'"),
        ({"probe": {"min_healthy_targets": 2}}, "probe.min_healthy_targets: is 2 but probe.targets lists only 1"),
        ({"probe": {"min_healthy_targets": 0}}, "probe.min_healthy_targets: must be an integer >= 1 (got 0)"),
        ({"probe": {"min_healthy_targets": True}}, "probe.min_healthy_targets: must be an integer, got a boolean True"),
        ({"probe": {"max_rtt_ms": -1}}, "probe.max_rtt_ms: must be > 0 or null (got -1)"),
        ({"probe": {"source": "utility-host"}}, "probe.source: 'utility-host' is not an IP address"),
        (
            {"probe": {"source": "198.18.3.10", "targets": ["198.19.0.10", "2001:db8::10"]}},
            "probe.targets[1]: 2001:db8::10 is not IPv4 like probe.source 198.18.3.10",
        ),
        ({"policy": {"hard_failure_rounds": 0}}, "policy.hard_failure_rounds: must be an integer >= 1 (got 0)"),
        ({"policy": {"hard_failure_rounds": 2.5}}, "policy.hard_failure_rounds: must be an integer, got a number 2.5"),
        ({"policy": {"brownout_loss_pct": 100}}, "policy.brownout_loss_pct: must be between 0 and 100 (got 100)"),
        ({"policy": {"brownout_min_window_fraction": 0}}, "policy.brownout_min_window_fraction: must be in (0, 1] (got 0)"),
        ({"policy": {"failback_hold_s": 60, "dampening_max_hold_s": 30}}, "policy.dampening_max_hold_s: must be >= failback_hold_s (got 30)"),
        ({"policy": {"failback_hold_s": -1}}, "policy.failback_hold_s: must be >= 0 (got -1)"),
        ({"vpn_check": {"enabled": True}}, "vpn_check.targets: must list at least one address when vpn_check.enabled is true"),
        (
            {"vpn_check": {"enabled": True, "targets": ["198.19.0.20"], "min_healthy_targets": 2}},
            "vpn_check.min_healthy_targets: is 2 but vpn_check.targets lists only 1",
        ),
        ({"vpn_check": {"interval": 1, "timeout": 2}}, "vpn_check.timeout: must be <= vpn_check.interval (1 s), got 2 s"),
        ({"vpn_check": {"unhealthy_after_rounds": 0}}, "vpn_check.unhealthy_after_rounds: must be >= 1, got 0"),
        ({"reconcile_interval_s": 0}, "reconcile_interval_s: must be > 0, got 0"),
        ({"api": {"max_attempts": 0}}, "api.max_attempts: must be between 1 and 20, got 0"),
        ({"api": {"read_timeout_s": None}}, "api.read_timeout_s: must be a number, got null None"),
        ({"api": {"max_parallel_calls": 0}}, "api.max_parallel_calls: must be between 1 and 32, got 0"),
        ({"api": {"max_parallel_calls": 33}}, "api.max_parallel_calls: must be between 1 and 32, got 33"),
        ({"api": {"mutating_rate_per_s": 0}}, "api.mutating_rate_per_s: must be > 0, got 0"),
        ({"api": {"mutating_rate_per_s": 1001}}, "api.mutating_rate_per_s: must be <= 1000, got 1001"),
        ({"api": {"mutating_burst": 0}}, "api.mutating_burst: must be between 1 and 1000, got 0"),
        ({"metrics": {"port": 70000}}, "metrics.port: must be between 1 and 65535, got 70000"),
        ({"metrics": {"address": "localhost"}}, "metrics.address: 'localhost' is not an IP address"),
        ({"notifications": {"sns_topic_arn": "my-topic"}}, "notifications.sns_topic_arn: 'my-topic' is not an SNS topic ARN"),
        ({"cloudwatch": {"enabled": "yes"}}, "cloudwatch.enabled: must be true or false, got a string 'yes'"),
        ({"cloudwatch": {"interval_s": 5}}, "cloudwatch.interval_s: must be >= 10 (seconds between PutMetricData calls), got 5"),
        ({"cloudwatch": {"interval_s": 20, "timeout_s": 15}}, "cloudwatch.timeout_s: must be <= half of cloudwatch.interval_s (10 s), got 15 s"),
        ({"cloudwatch": {"namespace": "AWS/EC2"}}, "cloudwatch.namespace: 'AWS/EC2' starts with AWS/, which is reserved for AWS services"),
        ({"cloudwatch": {"namespace": "Local Zones*"}}, "cloudwatch.namespace: 'Local Zones*' is not a CloudWatch namespace"),
        ({"cloudwatch": {"failover_group": ""}}, "cloudwatch.failover_group: must be a non-empty string, got a string ''"),
        ({"cloudwatch": {"region": "Virginia"}}, "cloudwatch.region: 'Virginia' is not an AWS region name"),
        ({"cloudwatch": {"endpoint_url": "monitoring.local"}}, "cloudwatch.endpoint_url: 'monitoring.local' is not an http:// or https:// URL"),
        ({"cloudwatch": {"dimensions": {}}}, "cloudwatch.dimensions: unknown key (allowed here: enabled, namespace, interval_s,"),
        ({"state_file": "state.json"}, "state_file: must be an absolute file path, got 'state.json'"),
        ({"log_level": "verbose"}, "log_level: must be one of debug, info, warning, error, got 'verbose'"),
        ({"probe": ["198.19.0.10"]}, "probe: must be a mapping, got a list ['198.19.0.10']"),
    ],
)
def test_each_bad_value_is_reported_with_its_key_path(changes, expected):
    problems = problems_of(with_changes(**changes))
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize("echoes", [0, -1, "2", None])
def test_bad_echoes_per_round_is_one_problem_naming_the_key(echoes):
    assert problems_of(with_changes(probe={"echoes": echoes})) == [
        "probe.echoes: must be an integer from 1 to 10 (echoes to each target per round), got %r" % (echoes,)
    ]


@pytest.mark.parametrize("echoes", [1, 10])
def test_echoes_per_round_from_one_to_ten_are_accepted(echoes):
    assert validate_document(with_changes(probe={"echoes": echoes})).probe.echoes == echoes


def test_unknown_keys_are_errors_at_every_level():
    document = with_changes(probe={"target": ["198.19.0.10"]}, polcy={}, api={"retries": 3})
    problems = problems_of(document)
    assert any(problem.startswith("polcy: unknown key (allowed here: region, endpoint_url,") for problem in problems)
    assert any(problem.startswith("probe.target: unknown key (allowed here: targets, interval,") for problem in problems)
    assert any(problem.startswith("api.retries: unknown key") for problem in problems)


def test_missing_required_keys_are_each_named():
    problems = problems_of({"probe": {}})
    for path in ("region", "route_table_ids", "destination_cidrs", "vpn_eni_id", "probe.targets"):
        assert "%s: required key is missing" % path in problems


def test_the_probe_route_table_may_not_be_managed():
    problems = problems_of(with_changes(route_table_ids=[RTB, PROBE_RTB], probe_route_table_id=PROBE_RTB))
    assert problems == [
        "route_table_ids[1]: %s is the probe_route_table_id; the utility subnet's route table must keep following "
        "Direct Connect so the probes measure it, so it is never modified" % PROBE_RTB
    ]
    assert validate_document(with_changes(probe_route_table_id=PROBE_RTB)).probe_route_table_id == PROBE_RTB


def test_every_problem_is_reported_in_one_pass():
    problems = problems_of(with_changes(region="nowhere", vpn_eni_id="x", probe={"targets": ["1.2.3.999"], "interval": -1}, log_level="loud"))
    assert len(problems) == 5, problems


def test_yaml_syntax_errors_and_empty_files_are_problems_not_tracebacks(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("region: [us-east-1\n")
    with pytest.raises(ValidationError) as caught:
        load_config(str(broken))
    assert caught.value.problems[0].startswith("%s: not valid YAML:" % broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ValidationError, match="the configuration is empty"):
        load_config(str(empty))
    with pytest.raises(ValidationError, match="cannot read the configuration"):
        load_config(str(tmp_path / "missing.yaml"))


def test_a_key_given_twice_is_an_error():
    text = textwrap.dedent("""\
        region: us-east-1
        probe:
          targets: [198.19.0.10]
          interval: 0.1
          interval: 0.5
        """)
    with pytest.raises(ValidationError, match="key 'interval' is given twice"):
        parse_yaml(text)


def test_load_config_reads_a_file(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(FULL_YAML)
    config = load_config(str(path))
    assert config.route_table_ids == (RTB,) and config.destination_cidrs == ("198.19.0.0/24", "2001:db8:100::/56")
    assert len(config.summary()) == 6 and config.summary()[-1] == "CloudWatch metrics off"


PREFIX_LIST = "pl-0123456789abcdef0"


def test_the_prefix_list_strategy_is_read_and_rebuilds_the_route_settings():
    listed = validate_document(with_changes(route_strategy="prefix_list", prefix_list_id=PREFIX_LIST))
    per_route = validate_document(MINIMAL)
    assert (listed.route_strategy, listed.prefix_list_id) == ("prefix_list", PREFIX_LIST)
    assert (per_route.route_strategy, per_route.prefix_list_id) == ("per_route", None)
    assert listed.route_settings() != per_route.route_settings(), "a reload with another strategy re-reads the tables"
    assert any(line.endswith("route strategy prefix_list (prefix list %s)" % PREFIX_LIST) for line in listed.summary())


@pytest.mark.parametrize("changes, expected", [
    ({"route_strategy": "per_prefix"}, ["route_strategy: must be one of per_route, prefix_list, got 'per_prefix'"]),
    ({"route_strategy": "prefix_list"}, ["prefix_list_id: route_strategy prefix_list needs the ID"]),
    ({"route_strategy": "prefix_list", "prefix_list_id": "pl-1"}, ["prefix_list_id: 'pl-1' is not a valid prefix list ID"]),
    ({"prefix_list_id": PREFIX_LIST}, ["prefix_list_id: %s is given but route_strategy is per_route" % PREFIX_LIST]),
])
def test_a_strategy_and_its_prefix_list_are_checked_together_once(changes, expected):
    with pytest.raises(ValidationError) as caught:
        validate_document(with_changes(**changes))
    problems = caught.value.problems
    assert len(problems) == len(expected), problems
    assert all(problem.startswith(start) for problem, start in zip(problems, expected))
