# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every AWS module reports an AWS failure the same way: ``fail_json_aws_error``.

Each module runs in-process with a stand-in for AnsibleAWSModule whose client is
a real botocore client with a scripted error answer (no network), so what is
checked is the module's own error path, from its first API call to ``fail_json``.
"""

from __future__ import annotations

import json

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.localzones.failover.plugins.modules import lz_coordination_table
from ansible_collections.localzones.failover.plugins.modules import lz_dx_bgp_failover
from ansible_collections.localzones.failover.plugins.modules import lz_failover_pin
from ansible_collections.localzones.failover.plugins.modules import lz_prefix_list
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover_info
from ansible_collections.localzones.failover.plugins.modules import lz_route_watch
from ansible_collections.localzones.failover.plugins.modules import lz_zone_info

ROUTE_ARGS = {"route_table_ids": ["rtb-0123456789abcdef0"], "destination_cidrs": ["198.19.0.0/24"], "vpn_eni_id": "eni-0123456789abcdef0"}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class ModuleFailed(Exception):
    """What the stand-in's fail_json raises, carrying the failure as the task would report it."""

    def __init__(self, failure):
        super().__init__(failure.get("msg"))
        self.failure = failure


class StandInAWSModule:
    """The parts of AnsibleAWSModule the modules use; the client comes from the test."""

    params_for_test = {}
    client_for_test = None

    def __init__(self, argument_spec, supports_check_mode=False, **_module_options):  # pylint: disable=unused-argument
        self.params = {name: spec.get("default") for name, spec in argument_spec.items()}
        self.params.update(self.params_for_test)
        self.check_mode = False
        self._diff = False
        self.region = "us-east-1"

    def client(self, service, config=None, retry_decorator=None):  # pylint: disable=unused-argument
        client = self.client_for_test
        assert client.meta.service_model.service_name == service
        return RetryingBotoClientWrapper(client, retry_decorator) if retry_decorator else client

    def warn(self, message):
        pass

    def exit_json(self, **result):
        pytest.fail("the module succeeded: %s" % result)

    def fail_json(self, **failure):
        raise ModuleFailed(failure)


def case(module, service, method, args, message_prefix=""):
    return pytest.param(module, service, method, args, message_prefix, id=module.__name__.rsplit(".", 1)[-1])


@pytest.mark.parametrize("module, service, method, args, message_prefix", [
    case(lz_route_failover, "ec2", "describe_route_tables", dict(ROUTE_ARGS, path="vpn")),
    case(lz_route_failover_info, "ec2", "describe_route_tables", ROUTE_ARGS),
    case(lz_route_watch, "ec2", "describe_route_tables", dict(ROUTE_ARGS, duration=1.0)),
    case(lz_dx_bgp_failover, "directconnect", "describe_virtual_interfaces", {"virtual_interface_id": "dxvif-ffabc123", "state": "started"}),
    case(lz_prefix_list, "ec2", "describe_managed_prefix_lists", {"name": "on-prem", "entries": ["198.19.0.0/24"]}),
    case(lz_coordination_table, "dynamodb", "describe_table", {"name": "lz-coordination"}),
    case(lz_failover_pin, "dynamodb", "query", {"table": "lz-failover-coordination", "failover_group": "lz-failover"}),
    case(lz_zone_info, "ec2", "describe_availability_zones", {"zone_names": ["us-east-1-nyc-2a"]}, "Could not describe the zones us-east-1-nyc-2a: "),
])
def test_every_module_reports_an_aws_failure_the_same_way(monkeypatch, stubbed_client, module, service, method, args, message_prefix):
    client, stubber = stubbed_client(service, secret_access_key=SECRET)
    stubber.add_client_error(method, "UnauthorizedOperation", "You are not authorized to perform this operation.", http_status_code=403,
                             response_meta={"RequestId": "req-1"})
    monkeypatch.setattr(StandInAWSModule, "params_for_test", args)
    monkeypatch.setattr(StandInAWSModule, "client_for_test", client)
    monkeypatch.setattr(module, "AnsibleAWSModule", StandInAWSModule)

    with pytest.raises(ModuleFailed) as caught:
        module.main()

    failure = caught.value.failure
    service_name = client.meta.service_model.service_id
    operation = client.meta.method_to_api_mapping[method]
    assert failure["msg"].startswith(
        "%s%s %s failed: UnauthorizedOperation: You are not authorized to perform this operation." % (message_prefix, service_name, operation))
    expected = {"service": service_name, "operation": operation, "code": "UnauthorizedOperation", "request_id": "req-1"}
    assert {key: failure[key] for key in expected} == expected
    assert "exception" not in failure, "no traceback of the botocore exception"
    assert SECRET not in json.dumps(failure), "the failure is plain data, free of credentials"
