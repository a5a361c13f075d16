# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Direct Connect BGP failover tests: input checks, test state, API calls and waiting for BGP.

A failover drill takes Direct Connect down on purpose with the Direct Connect
failover test (StartBgpFailoverTest): AWS holds the virtual interface's BGP
sessions down until the test is stopped or its duration runs out.  Every call
goes through ``calls`` (one error type); callers pass a boto3 ``directconnect``
client built with ``calls.retry_config()``, so credentials, endpoints and
retries stay the caller's business.

The API's test ``status`` is a free string.  The Direct Connect user guide names
the values In progress, Completed (ran for its duration), Cancelled (stopped
before) and Failed, but the API reference lists no spellings; they are taken
to be ``in-progress``, ``completed``, ``cancelled`` and ``failed``, and every
comparison goes through ``normalize_status``, so "In progress" or
``IN_PROGRESS`` match as well.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from datetime import timezone

from ..errors import AwsApiError
from ..errors import FailoverError
from ..errors import ValidationError
from .calls import call

# Direct Connect IDs: a prefix and 8 lowercase letters or digits (longer forms accepted, as EC2 lengthened its IDs).
_VIRTUAL_INTERFACE_ID = re.compile(r"^dxvif-[a-z0-9]{8,17}$")
_BGP_PEER_ID = re.compile(r"^dxpeer-[a-z0-9]{8,17}$")

# testDurationInMinutes as the API accepts it.
MIN_TEST_DURATION_MINUTES = 1
MAX_TEST_DURATION_MINUTES = 4320
# A drill leaves Direct Connect down for at most this long if nothing stops the test.
DRILL_DEFAULT_TEST_DURATION_MINUTES = 5

# The one status that matters here: the test holds BGP down (the others all mean it ended).
STATUS_IN_PROGRESS = "in-progress"

BGP_UP = "up"
BGP_DOWN = "down"

STATE_STARTED = "started"
STATE_STOPPED = "stopped"
CHANGE_START = "start"
CHANGE_STOP = "stop"
CHANGE_NONE = "none"

# The BGP status a state leads to, and the one a stopped test gives back.
WANTED_BGP_STATUS = {STATE_STARTED: BGP_DOWN, STATE_STOPPED: BGP_UP}

# ListVirtualInterfaceTestHistory answers at most 100 tests a page.
_HISTORY_PAGE_SIZE = 100
# BGP peer fields worth reporting; authKey (the MD5 password of the session) is left out on purpose.
_PEER_FIELDS = ("bgpPeerId", "bgpStatus", "bgpPeerState", "addressFamily", "asn", "asnLong", "amazonAddress", "customerAddress", "awsDeviceV2",
                "awsLogicalDeviceId")
_TEST_FIELDS = ("testId", "virtualInterfaceId", "bgpPeers", "status", "ownerAccount", "testDurationInMinutes", "startTime", "endTime")


class BgpWaitTimeoutError(FailoverError):
    """The BGP peers did not all reach the wanted status in time."""

    def __init__(self, virtual_interface_id, wanted, peer_ids, peers, timeout):
        last_seen = ", ".join("%s %s" % (peer.get("bgpPeerId"), peer.get("bgpStatus")) for peer in peers if peer.get("bgpPeerId") in peer_ids)
        super().__init__(
            "the BGP peers %s of %s did not all report %s within %s s (last seen: %s)"
            % (", ".join(peer_ids), virtual_interface_id, wanted, timeout, last_seen or "no such peer"),
            wanted_bgp_status=wanted,
        )


# --------------------------------------------------------------------------- offline validation


def virtual_interface_id_problem(value):
    """A message when ``value`` is not a well-formed virtual interface ID, else None."""
    if not isinstance(value, str) or not _VIRTUAL_INTERFACE_ID.match(value):
        return "%r is not a valid virtual interface ID (expected the form dxvif-ffabc123)" % (value,)
    return None


def bgp_peer_id_problem(value):
    """A message when ``value`` is not a well-formed BGP peer ID, else None."""
    if not isinstance(value, str) or not _BGP_PEER_ID.match(value):
        return "%r is not a valid BGP peer ID (expected the form dxpeer-ffabc123)" % (value,)
    return None


def duration_problem(minutes):
    """A message when ``minutes`` is outside what StartBgpFailoverTest accepts, else None."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_TEST_DURATION_MINUTES <= minutes <= MAX_TEST_DURATION_MINUTES:
        return "%r is not a test duration Direct Connect accepts (whole minutes from %d to %d)" % (
            minutes, MIN_TEST_DURATION_MINUTES, MAX_TEST_DURATION_MINUTES)
    return None


def validate_test_inputs(virtual_interface_id, state, bgp_peers=None, test_duration_minutes=DRILL_DEFAULT_TEST_DURATION_MINUTES, wait_timeout=None):
    """Check every offline-checkable input at once; return the BGP peer IDs without repeats.

    Raises one ValidationError that lists every problem, before any API call.
    """
    problems = []
    problem = virtual_interface_id_problem(virtual_interface_id)
    if problem:
        problems.append("virtual_interface_id: " + problem)
    if state not in WANTED_BGP_STATUS:
        problems.append("state: %r is not one of %s" % (state, ", ".join(sorted(WANTED_BGP_STATUS))))
    peer_ids = list(dict.fromkeys(bgp_peers or ()))
    for peer_id in peer_ids:
        problem = bgp_peer_id_problem(peer_id)
        if problem:
            problems.append("bgp_peers: " + problem)
    if state == STATE_STARTED:
        problem = duration_problem(test_duration_minutes)
        if problem:
            problems.append("test_duration_minutes: " + problem)
    if wait_timeout is not None and (isinstance(wait_timeout, bool) or not isinstance(wait_timeout, (int, float)) or wait_timeout <= 0):
        problems.append("wait_timeout: %r must be a positive number of seconds" % (wait_timeout,))
    if problems:
        raise ValidationError(problems)
    return peer_ids


# --------------------------------------------------------------------------- tests and peers


def normalize_status(status):
    """``status`` in the API's spelling: lowercase words joined by hyphens ("In progress" -> "in-progress")."""
    return re.sub(r"[\s_]+", "-", str(status or "").strip().lower())


def is_in_progress(test):
    """Whether ``test`` (a VirtualInterfaceTestHistory dict) still holds BGP down."""
    return normalize_status(test.get("status")) == STATUS_IN_PROGRESS


def _start_key(test):
    start = test.get("startTime")
    if isinstance(start, datetime):
        return start.timestamp()
    return float(start) if isinstance(start, (int, float)) else float("-inf")


def history_of(tests, virtual_interface_id):
    """The tests of one virtual interface, the most recently started first."""
    own = [test for test in tests if test.get("virtualInterfaceId") == virtual_interface_id]
    return sorted(own, key=_start_key, reverse=True)


def in_progress_test(tests, virtual_interface_id):
    """The test in progress on the virtual interface (the latest if the history shows several), else None."""
    return next((test for test in history_of(tests, virtual_interface_id) if is_in_progress(test)), None)


def latest_test(tests, virtual_interface_id):
    """The most recently started test of the virtual interface, else None."""
    own = history_of(tests, virtual_interface_id)
    return own[0] if own else None


def peer_ids_of(virtual_interface):
    """The IDs of the virtual interface's BGP peers, in the API's order."""
    return [peer["bgpPeerId"] for peer in virtual_interface.get("bgpPeers", []) if peer.get("bgpPeerId")]


def unknown_peer_ids(virtual_interface, peer_ids):
    """The requested peer IDs the virtual interface does not have."""
    known = set(peer_ids_of(virtual_interface))
    return [peer_id for peer_id in peer_ids if peer_id not in known]


def held_down_peer_ids(test, virtual_interface):
    """The peers a test holds down: the ones it names, or every peer of the interface when it names none."""
    named = list((test or {}).get("bgpPeers") or ())
    return named or peer_ids_of(virtual_interface)


def peers_in_status(peers, peer_ids, wanted):
    """Whether every peer in ``peer_ids`` is listed in ``peers`` with bgpStatus ``wanted``."""
    status = {peer.get("bgpPeerId"): peer.get("bgpStatus") for peer in peers}
    return all(status.get(peer_id) == wanted for peer_id in peer_ids)


def request_differences(test, peer_ids, test_duration_minutes):
    """How a running test differs from the one requested, as readable phrases (empty when it matches)."""
    differences = []
    running_peers = sorted(test.get("bgpPeers") or ())
    if peer_ids and sorted(peer_ids) != running_peers:
        differences.append("it holds down %s, not %s" % (", ".join(running_peers) or "every peer", ", ".join(sorted(peer_ids))))
    running_duration = test.get("testDurationInMinutes")
    if running_duration is not None and running_duration != test_duration_minutes:
        differences.append("it runs for %s minutes, not %s" % (running_duration, test_duration_minutes))
    return differences


def _timestamp_text(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).isoformat()
    return value


def summarize_test(test):
    """A VirtualInterfaceTestHistory dict fit to return: known fields only, timestamps as ISO 8601 UTC text."""
    if test is None:
        return None
    report = {field: test[field] for field in _TEST_FIELDS if field in test}
    for field in ("startTime", "endTime"):
        if field in report:
            report[field] = _timestamp_text(report[field])
    return report


def summarize_planned_test(virtual_interface_id, peer_ids, test_duration_minutes):
    """What a StartBgpFailoverTest call would ask for, in the same shape as ``summarize_test``."""
    return {"virtualInterfaceId": virtual_interface_id, "bgpPeers": list(peer_ids), "testDurationInMinutes": test_duration_minutes}


def summarize_peers(peers):
    """The BGP peers of a virtual interface fit to return: known fields only, never the authentication key."""
    return [{field: peer[field] for field in _PEER_FIELDS if field in peer} for peer in peers]


# --------------------------------------------------------------------------- API calls


def describe_virtual_interface(client, virtual_interface_id):
    """The DescribeVirtualInterfaces entry of the interface, or None when the answer does not list it."""
    response = call(client, "describe_virtual_interfaces", virtualInterfaceId=virtual_interface_id)
    return next((vif for vif in response.get("virtualInterfaces", []) if vif.get("virtualInterfaceId") == virtual_interface_id), None)


def list_tests(client, virtual_interface_id):
    """Every test in the history of the interface, across pages."""
    tests = []
    params = {"virtualInterfaceId": virtual_interface_id, "maxResults": _HISTORY_PAGE_SIZE}
    while True:
        response = call(client, "list_virtual_interface_test_history", **params)
        tests.extend(response.get("virtualInterfaceTestHistory", []))
        token = response.get("nextToken")
        if not token:
            return tests
        params["nextToken"] = token


def start_test(client, virtual_interface_id, peer_ids, test_duration_minutes):
    """StartBgpFailoverTest; every BGP peer of the interface when ``peer_ids`` is empty.  Returns the test."""
    params = {"virtualInterfaceId": virtual_interface_id, "testDurationInMinutes": test_duration_minutes}
    if peer_ids:
        params["bgpPeers"] = list(peer_ids)
    return call(client, "start_bgp_failover_test", **params)["virtualInterfaceTest"]


def stop_test(client, virtual_interface_id):
    """StopBgpFailoverTest; returns the stopped test."""
    return call(client, "stop_bgp_failover_test", virtualInterfaceId=virtual_interface_id)["virtualInterfaceTest"]


def start_or_confirm(client, virtual_interface_id, peer_ids, test_duration_minutes):
    """Start a test; return ``(test, warning)``.

    StartBgpFailoverTest is not idempotent: when a retried call (its first try
    lost on the way back) or another operator got there first, the call fails
    although a test is running.  A failed start is therefore checked against the
    history, and a test in progress counts as started, with a warning.
    """
    try:
        return start_test(client, virtual_interface_id, peer_ids, test_duration_minutes), None
    except AwsApiError as exc:
        running = in_progress_test(list_tests(client, virtual_interface_id), virtual_interface_id)
        if running is None:
            raise
        return running, "StartBgpFailoverTest answered %s (%s), but test %s is in progress on %s: reporting it" % (
            exc.code, exc.message, running.get("testId"), virtual_interface_id)


def stop_or_confirm(client, virtual_interface_id):
    """Stop the running test; return ``(test, warning)``, a failed stop counting as done when no test runs any more."""
    try:
        return stop_test(client, virtual_interface_id), None
    except AwsApiError as exc:
        tests = list_tests(client, virtual_interface_id)
        if in_progress_test(tests, virtual_interface_id) is not None:
            raise
        latest = latest_test(tests, virtual_interface_id)
        return latest, "StopBgpFailoverTest answered %s (%s), but no test is in progress on %s any more" % (exc.code, exc.message, virtual_interface_id)


def wait_for_bgp_status(read_peers, peer_ids, wanted, timeout, virtual_interface_id="", interval=1.0, clock=time.time, sleep=time.sleep):
    """Poll ``read_peers()`` until every peer in ``peer_ids`` reports ``wanted``; return ``(peers, seen_at)``.

    ``seen_at`` is ``clock()`` when the first answer that showed every peer in
    the wanted status arrived, so it lies at most one poll ``interval`` after
    the change.  Raises BgpWaitTimeoutError after ``timeout`` seconds.
    """
    deadline = clock() + timeout
    while True:
        peers = read_peers()
        seen_at = clock()
        if peers_in_status(peers, peer_ids, wanted):
            return peers, seen_at
        remaining = deadline - seen_at
        if remaining <= 0:
            raise BgpWaitTimeoutError(virtual_interface_id, wanted, list(peer_ids), peers, timeout)
        sleep(min(interval, remaining))
