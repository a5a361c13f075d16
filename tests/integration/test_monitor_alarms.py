# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor role's CloudWatch alarms (``tasks_from: alarms``), run by ansible-playbook on
localhost against the fidelity endpoint (moto serves CloudWatch and SNS too)."""

from __future__ import annotations

import boto3
import pytest

from harness.aws import DUMMY_CREDENTIALS
from harness.aws import REGION
from harness.aws import reset_server
from harness.provision import base_variables
from harness.provision import run_playbook

pytestmark = pytest.mark.moto

GROUP = "lz-test"  # base_variables' lz_failover_name, the default failover group
ALARMS = (f"{GROUP}-on-vpn", f"{GROUP}-both-paths-down")
PLAYBOOK = """\
- name: The monitor role's CloudWatch alarms
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create the alarms
      ansible.builtin.include_role:
        name: localzones.failover.monitor
        tasks_from: alarms
"""


@pytest.fixture
def endpoint(ec2_endpoint):
    reset_server(ec2_endpoint)
    return ec2_endpoint


@pytest.fixture
def playbook(tmp_path):
    path = tmp_path / "alarms.yml"
    path.write_text(PLAYBOOK)
    return str(path)


def client(endpoint, service):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def variables(endpoint, cloudwatch=True, vpn_check=True, **overrides):
    monitor_config = {
        "region": REGION,
        "cloudwatch": {"enabled": cloudwatch},
        "vpn_check": {"enabled": vpn_check, "targets": ["198.19.0.20"]},
    }
    # base_variables names the endpoint in lz_failover_aws, so the alarm calls can only ever reach the local one.
    return base_variables(endpoint, monitor_config=monitor_config, monitor_cloudwatch_alarms_enabled=True, **overrides)


def alarms(endpoint):
    return {alarm["AlarmName"]: alarm for alarm in client(endpoint, "cloudwatch").describe_alarms()["MetricAlarms"]}


def test_both_alarms_notify_the_topic_and_a_second_run_changes_nothing(endpoint, playbook):
    topic = client(endpoint, "sns").create_topic(Name="lz-failover-events")["TopicArn"]
    settings = variables(endpoint, failover_iam_sns_topic_arn=topic)  # the topic the IAM role is given, reused

    first = run_playbook(playbook, settings)
    assert first.returncode == 0, first.failure
    found = alarms(endpoint)
    assert set(found) == set(ALARMS)
    for name, metric in zip(ALARMS, ("OnVpn", "BothPathsDown")):
        alarm = found[name]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == ("LocalZonesFailover", metric, [{"Name": "FailoverGroup", "Value": GROUP}])
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Maximum", "GreaterThanOrEqualToThreshold", 1.0)
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (60, 1, "missing")
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]

    second = run_playbook(playbook, settings)
    assert second.returncode == 0, second.failure
    assert second.stats["changed"] == 0, second.changed_tasks

    # One alarm switched off is removed; the other stays as it is.
    third = run_playbook(playbook, dict(settings, monitor_cloudwatch_alarm_both_paths_down=False))
    assert third.returncode == 0, third.failure
    assert set(alarms(endpoint)) == {ALARMS[0]} and alarms(endpoint)[ALARMS[0]]["AlarmActions"] == [topic]


def test_bad_alarm_settings_are_named_together_before_any_alarm_exists(endpoint, playbook):
    settings = variables(endpoint, cloudwatch=False, vpn_check=False, monitor_cloudwatch_alarm_sns_topic_arn="my-topic",
                         monitor_cloudwatch_alarm_period_s=90)
    run = run_playbook(playbook, settings)
    assert run.returncode != 0
    message = run.failure
    assert 'monitor_cloudwatch_alarm_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "my-topic".' in message
    assert "only with monitor_config.cloudwatch.enabled: true" in message
    assert "The both-paths-down alarm needs monitor_config.vpn_check.enabled: true" in message
    assert "monitor_cloudwatch_alarm_period_s must be a multiple of 60" in message
    assert alarms(endpoint) == {}
