# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils.aws.modules: what the AWS modules share besides their error reporting.

How each module reports an AWS failure end to end is in tests/unit/plugins/modules/test_aws_failures.py.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.localzones.failover.plugins.doc_fragments.routes import ModuleDocFragment as RoutesFragment
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import managed_routes_argument_spec
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError


class Failed(Exception):
    """Raised by FailingModule.fail_json, as AnsibleModule ends the run there."""


class FailingModule:
    """Just the fail_json and client of an AWS module, recording what they were given."""

    def __init__(self):
        self.failure = None
        self.client_request = None

    def fail_json(self, **failure):
        self.failure = failure
        raise Failed()

    def client(self, service, config=None):
        self.client_request = (service, config)
        return "client"


def fails_with(message, **details):
    def run(_module):
        raise FailoverError(message, **details)
    return run


def test_the_route_options_are_the_ones_the_routes_doc_fragment_documents():
    documented = yaml.safe_load(RoutesFragment.DOCUMENTATION)["options"]
    spec = managed_routes_argument_spec()
    assert sorted(spec) == sorted(documented)
    for name, option in spec.items():
        assert option["type"] == documented[name]["type"], name
        assert option.get("required", False) == documented[name].get("required", False), name
        assert option.get("elements") == documented[name].get("elements"), name


def test_a_module_adds_its_own_options_to_the_route_options():
    spec = managed_routes_argument_spec(path=dict(type="str", required=True, choices=["vpn", "dx"]))
    assert spec["path"]["choices"] == ["vpn", "dx"]
    assert spec["vpn_eni_id"] == dict(type="str", required=True)


def test_a_failure_reports_the_errors_message_and_details():
    module = FailingModule()
    with pytest.raises(Failed):
        run_or_fail(module, fails_with("EC2 DescribeRouteTables failed", code="Throttling"))
    assert module.failure == {"msg": "EC2 DescribeRouteTables failed", "code": "Throttling"}


def test_a_failure_report_adds_a_message_and_what_the_run_had_done():
    module = FailingModule()

    def failure_report(error):
        return {"msg": "Could not finish: %s" % error.message, "changed": True}

    with pytest.raises(Failed):
        run_or_fail(module, fails_with("boom", code="X"), failure_report=failure_report)
    assert module.failure == {"msg": "Could not finish: boom", "changed": True, "code": "X"}


def test_a_run_that_succeeds_or_an_unexpected_error_is_left_alone():
    module = FailingModule()
    run_or_fail(module, lambda _module: None)
    assert module.failure is None

    def crashes(_module):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_or_fail(module, crashes)
    assert module.failure is None


@pytest.mark.parametrize("client_settings", [None, retry_config(max_attempts=3, connect_timeout=2, read_timeout=4)])
def test_a_client_gets_the_retry_settings(client_settings):
    module = FailingModule()
    assert retrying_client(module, "ec2", client_settings) == "client"
    service, config = module.client_request
    expected = client_settings or retry_config()
    assert service == "ec2"
    assert config.retries == expected["retries"]
    assert (config.connect_timeout, config.read_timeout) == (expected["connect_timeout"], expected["read_timeout"])
