# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_dx_bgp_failover run by Ansible against the fidelity server's Direct Connect emulation
(tools/endpoint/direct_connect.py), and that emulation itself through boto3.

What the module did is read back from the server (DescribeVirtualInterfaces, the
test history, the control API's per-Action request counts), never from the
module's own answer alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.aws import REGION
from harness.aws import ansible_json_environment
from harness.aws import http_json
from harness.aws import reset_server
from harness.paths import REPO_ROOT
from harness.waiting import wait_for

pytestmark = pytest.mark.moto

BIN = os.path.dirname(sys.executable)
MODULE = "localzones.failover.lz_dx_bgp_failover"
# The module's name before it stopped ending in _test; meta/runtime.yml redirects it to MODULE.
OLD_MODULE = "localzones.failover.lz_dx_failover_test"
VIF = "dxvif-ffabc123"
OTHER_VIF = "dxvif-ffxyz789"
PEER4 = "dxpeer-ff4aaaaa"
PEER6 = "dxpeer-ff6bbbbb"
AUTH_KEY = "md5-secret-of-the-session"
DX_CONTROL = "/_fidelity/directconnect"


# --------------------------------------------------------------------------- helpers


@dataclass
class DxWorld:
    """A fidelity server with two seeded virtual interfaces, and a Direct Connect client for it."""

    endpoint_url: str
    client: object

    def control(self, method, resource, body=None):
        status, answer = http_json(method, f"{self.endpoint_url}{DX_CONTROL}/{resource}", body)
        assert status == 200, answer
        return answer

    def requests(self):
        """Direct Connect calls the server answered since the reset, by Action."""
        return self.control("GET", "requests")["requests"]

    def tests(self, status=None):
        return self.control("GET", "tests" + (f"?status={status}" if status else ""))["tests"]

    def settings(self, **changes):
        return self.control("PUT", "settings", changes)

    def peer_statuses(self, vif_id=VIF):
        vif = self.client.describe_virtual_interfaces(virtualInterfaceId=vif_id)["virtualInterfaces"][0]
        return {peer["bgpPeerId"]: peer["bgpStatus"] for peer in vif["bgpPeers"]}

    def vif_state(self, vif_id=VIF):
        return self.client.describe_virtual_interfaces(virtualInterfaceId=vif_id)["virtualInterfaces"][0]["virtualInterfaceState"]


def dx_client(endpoint_url):
    return boto3.client("directconnect", region_name=REGION, endpoint_url=endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing")


def seeded_interfaces():
    return [
        {"virtualInterfaceId": VIF, "virtualGatewayId": "vgw-0123456789abcdef0", "bgpPeers": [
            {"bgpPeerId": PEER4, "addressFamily": "ipv4", "authKey": AUTH_KEY},
            {"bgpPeerId": PEER6, "addressFamily": "ipv6", "amazonAddress": "2001:db8:1::1/125", "customerAddress": "2001:db8:1::2/125"},
        ]},
        {"virtualInterfaceId": OTHER_VIF},
    ]


@pytest.fixture
def dx_world(ec2_endpoint):
    reset_server(ec2_endpoint)
    world = DxWorld(ec2_endpoint, dx_client(ec2_endpoint))
    world.control("PUT", "virtual-interfaces", {"virtual_interfaces": seeded_interfaces()})
    return world


def ansible_env():
    # Not "testing": Ansible masks every returned value equal to the secret key, and "testing" is a VIF state.
    return ansible_json_environment(AWS_ACCESS_KEY_ID="lz-dx-access-key", AWS_SECRET_ACCESS_KEY="lz-dx-secret-key")


def run_module(world, check=False, **args):
    """Run the module through ``ansible`` ad hoc; return its result, and the wall clock before and after the run."""
    argv = [os.path.join(BIN, "ansible"), "localhost", "-m", MODULE, "-a", json.dumps(dict(args, endpoint_url=world.endpoint_url))]
    argv += ["--check"] * check
    before = time.time()
    completed = subprocess.run(argv, env=ansible_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False)
    after = time.time()
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        pytest.fail("ansible printed no JSON:\n%s\n%s" % (completed.stdout, completed.stderr))
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"], before, after


def start(world, check=False, **args):
    return run_module(world, check=check, virtual_interface_id=VIF, state="started", **args)[0]


def stop(world, check=False, **args):
    return run_module(world, check=check, virtual_interface_id=VIF, state="stopped", **args)[0]


def history(world, vif_id=VIF):
    return world.client.list_virtual_interface_test_history(virtualInterfaceId=vif_id)["virtualInterfaceTestHistory"]


def statuses_of(result):
    return {peer["bgp_peer_id"]: peer["bgp_status"] for peer in result["bgp_peers"]}


# --------------------------------------------------------------------------- the module


def test_start_holds_every_peer_down_and_reports_the_test(dx_world):
    result, before, after = run_module(dx_world, virtual_interface_id=VIF, state="started")
    assert result.get("failed") is not True, result
    assert (result["changed"], result["change"]) == (True, "start")
    [running] = history(dx_world)
    test = result["test"]
    assert test["test_id"] == running["testId"] and running["status"] == "in-progress"
    assert (test["virtual_interface_id"], test["status"], test["test_duration_in_minutes"], test["bgp_peers"]) == (VIF, "in-progress", 5, [])
    assert running["testDurationInMinutes"] == 5, "the module's short default duration reached the API"
    assert test["start_time"].endswith("+00:00") and test["owner_account"] == "123456789012"
    assert before <= result["requested_at"] <= after
    assert "bgp_status_changed_at" not in result
    assert dx_world.peer_statuses() == {PEER4: "down", PEER6: "down"}
    assert statuses_of(result) == {PEER4: "down", PEER6: "down"}
    assert result["virtual_interface_state"] == "testing"
    assert dx_world.peer_statuses(OTHER_VIF) == dict.fromkeys(dx_world.peer_statuses(OTHER_VIF), "up")
    assert AUTH_KEY not in json.dumps(result), "the BGP authentication key is never returned"


def test_second_start_is_idempotent_and_names_the_difference(dx_world):
    first = start(dx_world)
    second = start(dx_world, test_duration_minutes=30)
    assert (second["changed"], second["change"]) == (False, "none")
    assert second["test"]["test_id"] == first["test"]["test_id"]
    assert "requested_at" not in second
    assert any("already in progress" in warning and "30" in warning for warning in second["warnings"]), second.get("warnings")
    assert dx_world.requests()["StartBgpFailoverTest"] == 1
    assert len(history(dx_world)) == 1


def test_check_mode_reports_the_start_and_changes_nothing(dx_world):
    planned = start(dx_world, check=True, bgp_peers=[PEER6], test_duration_minutes=7)
    assert (planned["changed"], planned["change"]) == (True, "start")
    assert planned["test"] == {"virtual_interface_id": VIF, "bgp_peers": [PEER6], "test_duration_in_minutes": 7}
    assert "requested_at" not in planned
    assert "StartBgpFailoverTest" not in dx_world.requests()
    assert history(dx_world) == [] and dx_world.peer_statuses() == {PEER4: "up", PEER6: "up"}


def test_check_mode_reports_the_stop_and_changes_nothing(dx_world):
    running = start(dx_world)["test"]
    planned = stop(dx_world, check=True)
    assert (planned["changed"], planned["change"]) == (True, "stop")
    assert (planned["test"]["test_id"], planned["test"]["status"]) == (running["test_id"], "in-progress")
    assert "StopBgpFailoverTest" not in dx_world.requests()
    assert [test["status"] for test in history(dx_world)] == ["in-progress"]
    assert dx_world.peer_statuses() == {PEER4: "down", PEER6: "down"}


def test_only_the_named_peer_goes_down(dx_world):
    result = start(dx_world, bgp_peers=[PEER6])
    assert result["test"]["bgp_peers"] == [PEER6]
    assert dx_world.peer_statuses() == {PEER4: "up", PEER6: "down"}


def test_stop_cancels_the_test_and_brings_bgp_back(dx_world):
    started = start(dx_world)
    result, before, after = run_module(dx_world, virtual_interface_id=VIF, state="stopped")
    assert (result["changed"], result["change"]) == (True, "stop")
    assert result["test"]["test_id"] == started["test"]["test_id"]
    assert result["test"]["status"] == "cancelled"
    assert before <= result["requested_at"] <= after
    assert [test["status"] for test in history(dx_world)] == ["cancelled"]
    assert dx_world.peer_statuses() == {PEER4: "up", PEER6: "up"} == statuses_of(result)
    assert result["virtual_interface_state"] == dx_world.vif_state() == "available"


def test_stop_without_a_running_test_calls_nothing(dx_world):
    never = stop(dx_world)
    assert (never["changed"], never["change"], never["test"]) == (False, "none", None)
    start(dx_world)
    stop(dx_world)
    again = stop(dx_world)
    assert (again["changed"], again["change"]) == (False, "none")
    assert again["test"]["status"] == "cancelled", "the latest test is reported"
    assert dx_world.requests()["StopBgpFailoverTest"] == 1


def test_wait_for_bgp_waits_for_down_then_for_up(dx_world):
    dx_world.settings(bgp_transition_seconds=2)
    down = start(dx_world, wait_for_bgp=True, wait_timeout=30)
    assert statuses_of(down) == {PEER4: "down", PEER6: "down"}
    # The emulation keeps BGP up for 2 s after the start: the module must have waited that out.
    assert 1.9 <= down["bgp_status_changed_at"] - down["requested_at"] <= 5, down
    up = stop(dx_world, wait_for_bgp=True, wait_timeout=30)
    assert statuses_of(up) == {PEER4: "up", PEER6: "up"}
    assert 1.9 <= up["bgp_status_changed_at"] - up["requested_at"] <= 5, up


def test_without_wait_bgp_may_still_be_up(dx_world):
    dx_world.settings(bgp_transition_seconds=20)
    result = start(dx_world)
    assert statuses_of(result) == {PEER4: "up", PEER6: "up"}
    assert result["virtual_interface_state"] == "testing"


def test_wait_timeout_fails_and_says_the_test_keeps_running(dx_world):
    dx_world.settings(bgp_transition_seconds=60)
    result = start(dx_world, wait_for_bgp=True, wait_timeout=2)
    assert result["failed"] is True and result["changed"] is True
    assert "did not all report down within 2 s" in result["msg"]
    assert "keeps running" in result["msg"] and result["test"]["test_id"] in result["msg"]
    assert [test["status"] for test in history(dx_world)] == ["in-progress"]


def test_unknown_interface_is_one_clear_error(dx_world):
    result = run_module(dx_world, virtual_interface_id="dxvif-ffnone00", state="started")[0]
    assert result["failed"] is True and result["changed"] is False
    assert result["code"] == "DirectConnectClientException"
    assert result["operation"] == "DescribeVirtualInterfaces"
    assert "dxvif-ffnone00" in result["msg"] and "does not exist" in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert "StartBgpFailoverTest" not in dx_world.requests()


def test_unknown_peer_is_refused_before_the_start(dx_world):
    result = start(dx_world, bgp_peers=[PEER4, "dxpeer-ffnone00"])
    assert result["failed"] is True
    assert "dxpeer-ffnone00 is no BGP peer of %s" % VIF in result["msg"]
    assert "StartBgpFailoverTest" not in dx_world.requests()


@pytest.mark.parametrize("minutes", [0, 4321])
def test_duration_out_of_range_is_refused_before_any_call(dx_world, minutes):
    result = run_module(dx_world, virtual_interface_id="dxvif-BAD", state="started", test_duration_minutes=minutes)[0]
    assert result["failed"] is True
    assert "test_duration_minutes: %d is not a test duration" % minutes in result["msg"]
    assert "virtual_interface_id: 'dxvif-BAD' is not a valid virtual interface ID" in result["msg"], "every problem in one error"
    assert dx_world.requests() == {}


def test_a_test_expires_by_itself(dx_world):
    dx_world.settings(seconds_per_minute=1)
    started = start(dx_world, test_duration_minutes=2)
    assert dx_world.peer_statuses() == {PEER4: "down", PEER6: "down"}
    wait_for(lambda: dx_world.tests()[0]["status"] == "completed", timeout=15, what="the 2-minute test (2 s here) to run out", interval=0.2)
    assert dx_world.peer_statuses() == {PEER4: "up", PEER6: "up"}
    stopped = stop(dx_world)
    assert (stopped["changed"], stopped["change"]) == (False, "none")
    assert (stopped["test"]["test_id"], stopped["test"]["status"]) == (started["test"]["test_id"], "completed")
    assert "StopBgpFailoverTest" not in dx_world.requests()
    assert start(dx_world)["changed"] is True, "a finished test does not block the next one"


@pytest.mark.parametrize("module", [MODULE, OLD_MODULE], ids=["name", "old-name-redirected"])
def test_module_defaults_group_sets_the_connection(dx_world, tmp_path, module):
    playbook = tmp_path / "drill.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/localzones.failover.aws": {"region": REGION, "endpoint_url": dx_world.endpoint_url}},
        "tasks": [{"name": "start", module: {"virtual_interface_id": VIF, "state": "started"}}],
    }]))
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    completed = subprocess.run(argv, env=ansible_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert [test["status"] for test in history(dx_world)] == ["in-progress"]


# --------------------------------------------------------------------------- the emulation through boto3


def served_error(call, **params):
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_emulation_errors_are_direct_connect_client_exceptions(dx_world):
    client = dx_world.client
    for call, params in ((client.describe_virtual_interfaces, {}), (client.start_bgp_failover_test, {}), (client.stop_bgp_failover_test, {})):
        code, status, message = served_error(call, virtualInterfaceId="dxvif-ffnone00", **params)
        assert (code, status) == ("DirectConnectClientException", 400) and "dxvif-ffnone00" in message
    for minutes in (0, 4321):
        code, status, _message = served_error(client.start_bgp_failover_test, virtualInterfaceId=VIF, testDurationInMinutes=minutes)
        assert (code, status) == ("DirectConnectClientException", 400)
    assert served_error(client.stop_bgp_failover_test, virtualInterfaceId=VIF)[0] == "DirectConnectClientException"
    client.start_bgp_failover_test(virtualInterfaceId=VIF)
    code, _status, message = served_error(client.start_bgp_failover_test, virtualInterfaceId=VIF)
    assert code == "DirectConnectClientException" and "already in progress" in message
    assert served_error(client.start_bgp_failover_test, virtualInterfaceId=OTHER_VIF, bgpPeers=[PEER4])[0] == "DirectConnectClientException"


def test_emulation_defaults_to_180_minutes_and_pages_the_history(dx_world):
    client = dx_world.client
    first = client.start_bgp_failover_test(virtualInterfaceId=VIF)["virtualInterfaceTest"]
    assert first["testDurationInMinutes"] == 180
    assert (first["endTime"] - first["startTime"]).total_seconds() == pytest.approx(180 * 60, abs=1)
    client.stop_bgp_failover_test(virtualInterfaceId=VIF)
    client.start_bgp_failover_test(virtualInterfaceId=VIF, bgpPeers=[PEER4], testDurationInMinutes=10)
    client.start_bgp_failover_test(virtualInterfaceId=OTHER_VIF, testDurationInMinutes=10)
    page = client.list_virtual_interface_test_history(virtualInterfaceId=VIF, maxResults=1)
    rest = client.list_virtual_interface_test_history(virtualInterfaceId=VIF, maxResults=1, nextToken=page["nextToken"])
    assert [test["bgpPeers"] for test in page["virtualInterfaceTestHistory"] + rest["virtualInterfaceTestHistory"]] == [[PEER4], []]
    assert "nextToken" not in rest
    running = client.list_virtual_interface_test_history(status="in-progress")["virtualInterfaceTestHistory"]
    assert sorted(test["virtualInterfaceId"] for test in running) == sorted([VIF, OTHER_VIF])
    assert [test["status"] for test in client.list_virtual_interface_test_history(bgpPeers=[PEER6])["virtualInterfaceTestHistory"]] == ["cancelled"]
    assert served_error(client.list_virtual_interface_test_history, nextToken="nonsense")[0] == "DirectConnectClientException"


def test_control_api_lists_running_tests_with_the_peers_they_hold(dx_world):
    dx_world.client.start_bgp_failover_test(virtualInterfaceId=VIF, bgpPeers=[PEER6])
    [running] = dx_world.tests(status="in-progress")
    assert (running["virtualInterfaceId"], running["heldDownPeerIds"], running["status"]) == (VIF, [PEER6], "in-progress")
    assert running["endTime"] - running["startTime"] == pytest.approx(180 * 60)


@pytest.mark.parametrize("body", [
    {"virtual_interfaces": [{"virtualInterfaceId": "dxvif-NOPE"}]},
    {"virtual_interfaces": [{"virtualInterfaceId": VIF, "bgpPeers": [{"bgpStatus": "sideways"}]}]},
    {"virtual_interfaces": [{"virtualInterfaceId": VIF, "colour": "blue"}]},
    {"virtual_interfaces": [{"virtualInterfaceId": VIF}, {"virtualInterfaceId": VIF}]},
    {"virtual_interfaces": "dxvif-ffabc123"},
])
def test_control_api_refuses_a_bad_seed_and_keeps_the_interfaces(dx_world, body):
    status, answer = http_json("PUT", f"{dx_world.endpoint_url}{DX_CONTROL}/virtual-interfaces", body)
    assert status == 400 and answer["error"]["code"] == "InvalidParameterValue", answer
    assert sorted(vif["virtualInterfaceId"] for vif in dx_world.control("GET", "virtual-interfaces")["virtual_interfaces"]) == sorted([VIF, OTHER_VIF])


def test_control_api_refuses_bad_settings(dx_world):
    for body in ({"seconds_per_minute": 0}, {"bgp_transition_seconds": -1}, {"minutes": 1}, {"seconds_per_minute": True}):
        status, _answer = http_json("PUT", f"{dx_world.endpoint_url}{DX_CONTROL}/settings", body)
        assert status == 400, body
    assert dx_world.control("GET", "settings") == {"seconds_per_minute": 60.0, "bgp_transition_seconds": 0.0}


def test_moto_reset_forgets_interfaces_tests_counters_and_settings(dx_world):
    dx_world.settings(seconds_per_minute=1)
    dx_world.client.start_bgp_failover_test(virtualInterfaceId=VIF)
    reset_server(dx_world.endpoint_url)
    assert dx_world.control("GET", "virtual-interfaces")["virtual_interfaces"] == []
    assert dx_world.tests() == [] and dx_world.requests() == {}
    assert dx_world.control("GET", "settings")["seconds_per_minute"] == 60.0
    assert dx_world.client.describe_virtual_interfaces()["virtualInterfaces"] == []
