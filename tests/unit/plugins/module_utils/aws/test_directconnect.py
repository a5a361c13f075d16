# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils.aws.directconnect on hand-built API answers: validation, test state, waiting, error handling.

The stand-in client below answers like Direct Connect from a list of tests; the
assertions are about what the logic does with the answers, not about the stand-in.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from botocore.exceptions import ClientError
from botocore.exceptions import EndpointConnectionError

from ansible_collections.localzones.failover.plugins.module_utils.aws import directconnect as dx
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from tests.support.fake_clock import FakeClock

VIF = "dxvif-ffabc123"
OTHER_VIF = "dxvif-ffxyz789"
PEER4 = "dxpeer-ff4aaaaa"
PEER6 = "dxpeer-ff6bbbbb"
T0 = datetime(2025, 6, 3, 9, 15, 2, tzinfo=timezone.utc)


def a_test(test_id, status, start=T0, vif=VIF, peers=(), minutes=5):
    return {"testId": test_id, "virtualInterfaceId": vif, "bgpPeers": list(peers), "status": status, "ownerAccount": "123456789012",
            "testDurationInMinutes": minutes, "startTime": start, "endTime": start + timedelta(minutes=minutes)}


def an_interface(*statuses):
    peers = [{"bgpPeerId": peer_id, "bgpStatus": status, "authKey": "secret", "addressFamily": "ipv4"}
             for peer_id, status in zip((PEER4, PEER6), statuses)]
    return {"virtualInterfaceId": VIF, "virtualInterfaceState": "available", "bgpPeers": peers}


def client_error(operation, message="Virtual interface dxvif-ffabc123 does not exist.", code="DirectConnectClientException"):
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class StandInClient:
    """Answers ListVirtualInterfaceTestHistory from ``tests`` (``page_size`` a page); Start/Stop raise ``failure`` when set."""

    def __init__(self, tests=(), page_size=100, failure=None):
        self.tests = list(tests)
        self.page_size = page_size
        self.failure = failure

    def list_virtual_interface_test_history(self, virtualInterfaceId, maxResults, nextToken=None):  # pylint: disable=invalid-name
        own = [test for test in self.tests if test["virtualInterfaceId"] == virtualInterfaceId]
        offset = int(nextToken or 0)
        page = {"virtualInterfaceTestHistory": own[offset:offset + min(maxResults, self.page_size)]}
        if offset + self.page_size < len(own):
            page["nextToken"] = str(offset + self.page_size)
        return page

    def start_bgp_failover_test(self, **params):
        if self.failure:
            raise self.failure
        return {"virtualInterfaceTest": a_test("new", "in-progress", peers=params.get("bgpPeers", ()), minutes=params["testDurationInMinutes"])}

    def stop_bgp_failover_test(self, virtualInterfaceId):  # pylint: disable=invalid-name
        if self.failure:
            raise self.failure
        return {"virtualInterfaceTest": a_test("stopped", "cancelled", vif=virtualInterfaceId)}


# --------------------------------------------------------------------------- validation


def test_valid_inputs_give_the_peers_without_repeats():
    assert dx.validate_test_inputs(VIF, "started", [PEER6, PEER4, PEER6], 5, 60) == [PEER6, PEER4]
    assert dx.validate_test_inputs(VIF, "stopped") == []


@pytest.mark.parametrize("minutes", [1, 5, 4320])
def test_durations_the_api_accepts(minutes):
    assert dx.duration_problem(minutes) is None


@pytest.mark.parametrize("minutes", [0, -5, 4321, True, "5", 2.5, None])
def test_durations_the_api_refuses(minutes):
    assert "1 to 4320" in dx.duration_problem(minutes)


@pytest.mark.parametrize("vif_id", ["dxvif-ffabc123", "dxvif-fgq9rbwo", "dxvif-0123456789abcdef0"])
def test_well_formed_interface_ids(vif_id):
    assert dx.virtual_interface_id_problem(vif_id) is None


@pytest.mark.parametrize("vif_id", ["dxvif-FFABC123", "dxvif-abc", "dxcon-ffabc123", "ffabc123", "", None, "dxvif-ffabc123 "])
def test_malformed_interface_ids(vif_id):
    assert "is not a valid virtual interface ID" in dx.virtual_interface_id_problem(vif_id)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as excinfo:
        dx.validate_test_inputs("dxvif-X", "paused", ["dxpeer-ok123456", "peer-1"], 0, 0)
    problems = excinfo.value.problems
    assert [problem.split(":")[0] for problem in problems] == ["virtual_interface_id", "state", "bgp_peers", "wait_timeout"]
    with pytest.raises(ValidationError) as excinfo:
        dx.validate_test_inputs("dxvif-X", "started", [], 4321)
    assert [problem.split(":")[0] for problem in excinfo.value.problems] == ["virtual_interface_id", "test_duration_minutes"]


def test_duration_matters_only_for_a_start():
    assert dx.validate_test_inputs(VIF, "stopped", None, 0) == []


# --------------------------------------------------------------------------- tests and peers


@pytest.mark.parametrize("status", ["in-progress", "In progress", "IN_PROGRESS", " in-progress "])
def test_status_spellings_of_a_running_test(status):
    assert dx.is_in_progress({"status": status})


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed", "", None])
def test_statuses_of_a_finished_test(status):
    assert not dx.is_in_progress({"status": status})


def test_the_latest_running_test_of_the_interface_is_picked():
    older = a_test("older", "in-progress", start=T0)
    newer = a_test("newer", "in-progress", start=T0 + timedelta(minutes=1))
    finished = a_test("finished", "completed", start=T0 + timedelta(minutes=2))
    elsewhere = a_test("elsewhere", "in-progress", start=T0 + timedelta(minutes=3), vif=OTHER_VIF)
    history = [older, finished, elsewhere, newer]
    assert dx.in_progress_test(history, VIF)["testId"] == "newer"
    assert dx.latest_test(history, VIF)["testId"] == "finished"
    assert dx.in_progress_test([finished, elsewhere], VIF) is None
    assert dx.latest_test([elsewhere], VIF) is None


def test_start_times_as_epoch_numbers_order_too():
    history = [dict(a_test("a", "in-progress"), startTime=100.0), dict(a_test("b", "in-progress"), startTime=200.0)]
    assert dx.in_progress_test(history, VIF)["testId"] == "b"


def test_a_test_naming_no_peer_holds_every_peer():
    interface = an_interface("up", "up")
    assert dx.held_down_peer_ids(a_test("t", "in-progress"), interface) == [PEER4, PEER6]
    assert dx.held_down_peer_ids(a_test("t", "in-progress", peers=[PEER6]), interface) == [PEER6]
    assert dx.held_down_peer_ids(None, interface) == [PEER4, PEER6]


def test_peers_in_status_needs_every_awaited_peer():
    peers = an_interface("down", "up")["bgpPeers"]
    assert dx.peers_in_status(peers, [PEER4], "down")
    assert not dx.peers_in_status(peers, [PEER4, PEER6], "down")
    assert not dx.peers_in_status(peers, ["dxpeer-ffmissing"], "down"), "a peer that is not listed never counts as down"


def test_unknown_peers_are_named():
    assert dx.unknown_peer_ids(an_interface("up", "up"), [PEER6, "dxpeer-ffnone00"]) == ["dxpeer-ffnone00"]


def test_differences_of_a_running_test_from_the_request():
    running = a_test("t", "in-progress", peers=[PEER4], minutes=5)
    assert dx.request_differences(running, [PEER4], 5) == []
    assert dx.request_differences(running, [], 5) == [], "no peers requested: any running test will do"
    assert dx.request_differences(running, [PEER6], 30) == ["it holds down %s, not %s" % (PEER4, PEER6), "it runs for 5 minutes, not 30"]


def test_summaries_keep_known_fields_in_utc_and_never_the_auth_key():
    local = timezone(timedelta(hours=2))
    test = dict(a_test("t", "in-progress", start=T0.astimezone(local)), unexpected="x")
    summary = dx.summarize_test(test)
    assert summary["startTime"] == "2025-06-03T09:15:02+00:00" and summary["endTime"] == "2025-06-03T09:20:02+00:00"
    assert "unexpected" not in summary
    assert dx.summarize_test(dict(test, startTime=T0.replace(tzinfo=None)))["startTime"] == "2025-06-03T09:15:02+00:00"
    assert dx.summarize_test(dict(test, startTime=T0.timestamp()))["startTime"] == "2025-06-03T09:15:02+00:00"
    assert dx.summarize_test(None) is None
    peers = dx.summarize_peers(an_interface("down", "up")["bgpPeers"])
    assert peers == [{"bgpPeerId": PEER4, "bgpStatus": "down", "addressFamily": "ipv4"}, {"bgpPeerId": PEER6, "bgpStatus": "up", "addressFamily": "ipv4"}]


# --------------------------------------------------------------------------- API calls


def test_call_turns_a_client_error_into_one_clear_error(stubbed_client):
    client, stubber = stubbed_client("directconnect")
    stubber.add_client_error("describe_virtual_interfaces", "DirectConnectClientException", "Virtual interface dxvif-ffabc123 does not exist.")
    with pytest.raises(AwsApiError) as excinfo:
        dx.describe_virtual_interface(client, VIF)
    error = excinfo.value
    assert (error.operation, error.code) == ("DescribeVirtualInterfaces", "DirectConnectClientException")
    assert error.message == ("Direct Connect DescribeVirtualInterfaces failed: DirectConnectClientException: "
                             "Virtual interface dxvif-ffabc123 does not exist.")


def test_call_names_a_connection_failure_by_its_class():
    class Unreachable:
        def list_virtual_interface_test_history(self, **_params):
            raise EndpointConnectionError(endpoint_url="https://directconnect.us-east-1.amazonaws.com/")

    with pytest.raises(AwsApiError) as excinfo:
        dx.list_tests(Unreachable(), VIF)
    assert excinfo.value.code == "EndpointConnectionError"


def test_an_interface_the_answer_does_not_list_is_none():
    class Empty:
        def describe_virtual_interfaces(self, **_params):
            return {"virtualInterfaces": [dict(an_interface("up"), virtualInterfaceId=OTHER_VIF)]}

    assert dx.describe_virtual_interface(Empty(), VIF) is None


def test_the_history_is_read_across_pages():
    history = [a_test("t%d" % number, "completed") for number in range(5)] + [a_test("x", "completed", vif=OTHER_VIF)]
    assert [test["testId"] for test in dx.list_tests(StandInClient(history, page_size=2), VIF)] == ["t0", "t1", "t2", "t3", "t4"]


def test_a_failed_start_with_a_test_now_running_counts_as_started():
    running = a_test("raced", "in-progress")
    client = StandInClient([running], failure=client_error("StartBgpFailoverTest", "A failover test is already in progress."))
    test, warning = dx.start_or_confirm(client, VIF, [], 5)
    assert test["testId"] == "raced"
    assert "DirectConnectClientException" in warning and "raced" in warning


def test_a_failed_start_with_nothing_running_is_the_error():
    client = StandInClient([a_test("old", "completed")], failure=client_error("StartBgpFailoverTest"))
    with pytest.raises(AwsApiError) as excinfo:
        dx.start_or_confirm(client, VIF, [], 5)
    assert excinfo.value.operation == "StartBgpFailoverTest"


def test_a_started_test_passes_peers_and_duration():
    test, warning = dx.start_or_confirm(StandInClient(), VIF, [PEER6], 7)
    assert (test["bgpPeers"], test["testDurationInMinutes"], warning) == ([PEER6], 7, None)


def test_a_failed_stop_with_nothing_running_any_more_counts_as_done():
    client = StandInClient([a_test("expired", "completed")], failure=client_error("StopBgpFailoverTest", "No test is in progress."))
    test, warning = dx.stop_or_confirm(client, VIF)
    assert test["testId"] == "expired" and "no test is in progress" in warning


def test_a_failed_stop_with_the_test_still_running_is_the_error():
    client = StandInClient([a_test("running", "in-progress")], failure=client_error("StopBgpFailoverTest", "Throttled", "ThrottlingException"))
    with pytest.raises(AwsApiError) as excinfo:
        dx.stop_or_confirm(client, VIF)
    assert excinfo.value.code == "ThrottlingException"


# --------------------------------------------------------------------------- waiting


@pytest.fixture
def clock():
    """The waits' clock (time.time and time.sleep): it moves only when the wait sleeps."""
    return FakeClock(start=1000.0)


def reads_changing_at(clock, change_at, before, after):
    """A read_peers that answers ``before`` until the fake clock reaches ``change_at``, then ``after``."""
    return lambda: (an_interface(*after) if clock.now >= change_at else an_interface(*before))["bgpPeers"]


def test_wait_returns_when_the_first_answer_shows_every_peer_down(clock):
    read = reads_changing_at(clock, 1003.5, ("up", "up"), ("down", "down"))
    peers, seen_at = dx.wait_for_bgp_status(read, [PEER4, PEER6], "down", 30, VIF, interval=1.0, clock=clock.time, sleep=clock.sleep)
    assert seen_at == 1004.0, "the first poll after the change, one interval late at most"
    assert [peer["bgpStatus"] for peer in peers] == ["down", "down"]


def test_wait_for_one_named_peer_ignores_the_others(clock):
    read = reads_changing_at(clock, 1002.0, ("up", "up"), ("up", "down"))
    _peers, seen_at = dx.wait_for_bgp_status(read, [PEER6], "down", 30, VIF, clock=clock.time, sleep=clock.sleep)
    assert seen_at == 1002.0


def test_wait_that_is_already_satisfied_does_not_sleep(clock):
    read = reads_changing_at(clock, 0, ("up", "up"), ("up", "up"))
    _peers, seen_at = dx.wait_for_bgp_status(read, [PEER4, PEER6], "up", 30, VIF, clock=clock.time, sleep=clock.sleep)
    assert (seen_at, clock.sleeps) == (1000.0, [])


def test_wait_times_out_naming_what_it_last_saw(clock):
    read = reads_changing_at(clock, 10 ** 9, ("down", "up"), ("down", "down"))
    with pytest.raises(dx.BgpWaitTimeoutError) as excinfo:
        dx.wait_for_bgp_status(read, [PEER4, PEER6], "down", 2.5, VIF, interval=1.0, clock=clock.time, sleep=clock.sleep)
    assert excinfo.value.message == ("the BGP peers %s, %s of %s did not all report down within 2.5 s (last seen: %s down, %s up)"
                                     % (PEER4, PEER6, VIF, PEER4, PEER6))
    assert clock.now == 1002.5 and max(clock.sleeps) <= 1.0, "never sleeps past the deadline"
