# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Direct Connect failover tests, answered on the endpoint's server (server.py).

moto's Direct Connect backend knows connections and LAGs but no virtual
interfaces and no failover test.  This module answers, on the endpoint's server,
the four Direct Connect calls a failover drill makes, in Direct Connect's JSON
protocol (``POST /`` with ``X-Amz-Target: OvertureService.<Action>`` and
``Content-Type: application/x-amz-json-1.1``); every other Direct Connect call
still goes to moto.  The region comes from the SigV4 credential scope
(``us-east-1`` for an unsigned request); everything lives in moto's default
account.

The calls
---------
* ``DescribeVirtualInterfaces`` (``virtualInterfaceId``, ``connectionId``,
  ``maxResults``, ``nextToken``) -> ``{"virtualInterfaces": [...]}`` with the
  seeded VirtualInterface fields.  While a test holds a BGP peer down its
  ``bgpStatus`` is ``down``, and the interface's ``virtualInterfaceState`` is
  ``testing`` (the state AWS documents for the length of a test).
* ``StartBgpFailoverTest`` (``virtualInterfaceId``, ``bgpPeers``,
  ``testDurationInMinutes``, default 180) -> ``{"virtualInterfaceTest": {testId,
  virtualInterfaceId, bgpPeers, status, ownerAccount, testDurationInMinutes,
  startTime, endTime}}``; ``bgpPeers`` echoes the request (empty: every peer).
* ``StopBgpFailoverTest`` (``virtualInterfaceId``) -> the stopped test, status
  ``cancelled``, ``endTime`` the moment it stopped.
* ``ListVirtualInterfaceTestHistory`` (``testId``, ``virtualInterfaceId``,
  ``bgpPeers`` (tests holding any of them), ``status``, ``maxResults`` (at most
  100 a page), ``nextToken``) -> ``{"virtualInterfaceTestHistory": [...]}``, the
  most recently started first.

A test is ``in-progress`` until it is stopped (``cancelled``) or its duration
runs out (``completed``, ``endTime`` = start + duration).  While in progress,
``endTime`` is the time it is due to end.  Timestamps are epoch seconds, as the
JSON protocol sends them.  Statuses are computed on every read, so a test
expires without anyone calling anything.

Errors are Direct Connect's: HTTP 400 with the body ``{"__type":
"DirectConnectClientException", "message": ...}`` for a virtual interface that
does not exist, a BGP peer the interface does not have, a
``testDurationInMinutes`` outside 1..4320, starting a test while one runs on the
interface (or while it is not ``available``), stopping when no test runs, a
missing or malformed parameter and a bad ``nextToken``.

What differs from AWS (not verified against it, or left out)
------------------------------------------------------------
* The status spellings (``in-progress``, ``completed``, ``cancelled``) follow
  the user guide's In progress / Completed / Cancelled; the API reference does
  not list them.  ``failed`` is never produced.
* AWS's error messages for these cases are not documented; the texts here are
  made up, the exception name and HTTP status are AWS's.  Whether AWS answers an
  unknown ``virtualInterfaceId`` to DescribeVirtualInterfaces with an error (as
  here) or an empty list is not verified; the module handles both.
* BGP goes down at once (or after ``bgp_transition_seconds``); on AWS it takes
  a moment, and the peers come back on their own schedule.
* Nothing here touches EC2: a held-down peer does not withdraw the learned
  prefixes of a VGW (propagation.py); a lab that wants that reads
  ``GET /_fidelity/directconnect/tests`` and acts on it.
* No permissions, no hosted or other-account interfaces, no CBOR protocol, no
  other Direct Connect call.

Control API (on the same server, under ``/_fidelity/directconnect/``)
--------------------------------------------------------------------
* ``PUT virtual-interfaces`` with ``{"region": "us-east-1", "virtual_interfaces":
  [{...}, ...]}`` (``region`` optional) replaces the region's virtual interfaces
  and forgets their tests.  Each item takes VirtualInterface fields by their API
  names; all are optional: ``virtualInterfaceId`` (default a new
  ``dxvif-xxxxxxxx``), ``virtualInterfaceState`` (``available``), ``bgpPeers``
  (default one IPv4 peer; each peer takes ``bgpPeerId`` (a new
  ``dxpeer-xxxxxxxx``), ``bgpStatus`` (``up``), ``bgpPeerState``
  (``available``), ``addressFamily``, ``asn``, ``amazonAddress``,
  ``customerAddress``, ``authKey``, ...), ``virtualGatewayId``, ``vlan``, ``asn``
  and the others DescribeVirtualInterfaces lists.  Answers ``200 {"region",
  "virtual_interfaces": [...]}`` as DescribeVirtualInterfaces shows them; 400 for
  an unknown field, a malformed ID, a repeated ID or a bad value, and then
  nothing changes.
* ``GET virtual-interfaces?region=us-east-1`` reads them the same way.
* ``GET tests?region=us-east-1`` -> ``200 {"region", "tests": [...]}``: every test
  of the region as ListVirtualInterfaceTestHistory shows it, plus
  ``heldDownPeerIds`` (the peers it acts on), most recently started first.
  ``?status=in-progress`` keeps only the running ones.
* ``GET settings`` / ``PUT settings`` with ``{"seconds_per_minute": 60,
  "bgp_transition_seconds": 0}`` (either field): how many real seconds a test
  "minute" lasts (so a test can expire within a test run), and how long BGP
  takes to go down after a start and to come back after the test ends.  A test
  keeps the settings it was started with.
* ``GET requests`` -> ``200 {"requests": {Action: n}}``: the Direct Connect calls
  this module answered since the last reset.

moto's ``POST /moto-api/reset`` drops the interfaces, the tests, the counters and
the settings, like the rest of the endpoint's state (reset.py).  In-process: ``put_virtual_interfaces``,
``virtual_interfaces``, ``failover_tests``, ``put_settings``, ``settings``,
``request_counts``, ``reset``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from moto.core import DEFAULT_ACCOUNT_ID
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .protocol import DEFAULT_REGION
from .protocol import credential_scope
from .protocol import json_error
from .protocol import json_response

TARGET_PREFIX = "OvertureService."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CLIENT_EXCEPTION = "DirectConnectClientException"

MIN_TEST_DURATION_MINUTES = 1
MAX_TEST_DURATION_MINUTES = 4320
DEFAULT_TEST_DURATION_MINUTES = 180
MAX_RESULTS = 100

STATUS_IN_PROGRESS = "in-progress"
STATUS_COMPLETED = "completed"
STATUS_CANCELLED = "cancelled"
BGP_STATUSES = ("up", "down", "unknown")
VIF_STATES = ("confirming", "verifying", "pending", "available", "down", "testing", "deleting", "deleted", "rejected", "unknown")
PEER_STATES = ("verifying", "pending", "available", "deleting", "deleted")

DEFAULT_SETTINGS = {"seconds_per_minute": 60.0, "bgp_transition_seconds": 0.0}

_VIF_ID = re.compile(r"^dxvif-[a-z0-9]{8,17}$")
_PEER_ID = re.compile(r"^dxpeer-[a-z0-9]{8,17}$")

# The VirtualInterface and BGPPeer fields a seed may set, with their defaults (None: derived, or left out).
_VIF_DEFAULTS = {
    "ownerAccount": DEFAULT_ACCOUNT_ID, "virtualInterfaceId": None, "location": "EqDC2", "connectionId": "dxcon-fgabc123",
    "virtualInterfaceType": "private", "virtualInterfaceName": None, "vlan": 101, "asn": 65000, "asnLong": None, "amazonSideAsn": 64512,
    "authKey": None, "amazonAddress": "169.254.255.1/30", "customerAddress": "169.254.255.2/30", "addressFamily": "ipv4",
    "virtualInterfaceState": "available", "customerRouterConfig": None, "mtu": 1500, "jumboFrameCapable": False, "virtualGatewayId": None,
    "directConnectGatewayId": None, "routeFilterPrefixes": [], "bgpPeers": None, "region": None, "awsDeviceV2": "EqDC2-1a2b3c4d5e6f",
    "awsLogicalDeviceId": None, "tags": [], "siteLinkEnabled": False,
}
_PEER_DEFAULTS = {
    "bgpPeerId": None, "asn": 65000, "asnLong": None, "authKey": None, "addressFamily": "ipv4", "amazonAddress": "169.254.255.1/30",
    "customerAddress": "169.254.255.2/30", "bgpPeerState": "available", "bgpStatus": "up", "awsDeviceV2": "EqDC2-1a2b3c4d5e6f",
    "awsLogicalDeviceId": None,
}
_SETTING_LIMITS = {"seconds_per_minute": (0.001, 3600.0), "bgp_transition_seconds": (0.0, 3600.0)}

_LOCK = threading.RLock()
# The one clock every status is computed from.
_clock = time.time


class DirectConnectError(Exception):
    """A Direct Connect client error answer (DirectConnectClientException, HTTP 400)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class SeedError(ValueError):
    """A control API body that cannot be used; nothing was changed."""


# --------------------------------------------------------------------------- model


@dataclass
class FailoverTest:  # pylint: disable=too-many-instance-attributes
    """One StartBgpFailoverTest; its status follows from the clock and whether it was stopped."""

    test_id: str
    region: str
    virtual_interface_id: str
    requested_peer_ids: tuple
    held_peer_ids: tuple
    duration_minutes: int
    started_at: float
    seconds_per_minute: float
    bgp_transition_seconds: float
    stopped_at: float | None = None

    @property
    def due_at(self):
        """When the test runs out unless stopped before."""
        return self.started_at + self.duration_minutes * self.seconds_per_minute

    def status(self, now):
        """``in-progress``, ``cancelled`` (stopped before its end) or ``completed``."""
        if self.stopped_at is not None:
            return STATUS_CANCELLED
        return STATUS_COMPLETED if now >= self.due_at else STATUS_IN_PROGRESS

    def ended_at(self):
        """When the test ends or ended."""
        return self.stopped_at if self.stopped_at is not None else self.due_at

    def holds_down(self, peer_id, now):
        """Whether the peer's BGP session is down because of this test at ``now``."""
        delay = self.bgp_transition_seconds
        return peer_id in self.held_peer_ids and self.started_at + delay <= now < self.ended_at() + delay

    def as_api(self, now):
        """The VirtualInterfaceTestHistory the API answers."""
        return {"testId": self.test_id, "virtualInterfaceId": self.virtual_interface_id, "bgpPeers": list(self.requested_peer_ids),
                "status": self.status(now), "ownerAccount": DEFAULT_ACCOUNT_ID, "testDurationInMinutes": self.duration_minutes,
                "startTime": self.started_at, "endTime": self.ended_at()}


@dataclass
class _State:
    """Everything the emulation keeps; replaced as a whole by reset()."""

    interfaces: dict = field(default_factory=dict)  # region -> {vif_id: seeded VirtualInterface dict}
    tests: list = field(default_factory=list)
    settings: dict = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    requests: Counter = field(default_factory=Counter)


_STATE = _State()


def reset():
    """Forget every interface, test, counter and setting (moto's reset calls this)."""
    global _STATE  # pylint: disable=global-statement
    with _LOCK:
        _STATE = _State()


def _random_id(prefix):
    # Eight lowercase hex digits fit the form of Direct Connect IDs (eight lowercase letters or digits).
    return prefix + secrets.token_hex(4)


# --------------------------------------------------------------------------- seeding


def _checked_fields(item, defaults, what):
    """The item's fields over the defaults, in the API's order; fields without a value are left out."""
    unknown = sorted(set(item) - set(defaults))
    if unknown:
        raise SeedError(f"unknown {what} field(s): {', '.join(unknown)}")
    merged = {name: item.get(name, default) for name, default in defaults.items()}
    return {name: value for name, value in merged.items() if value is not None}


def _checked_choice(value, choices, name):
    if value not in choices:
        raise SeedError(f'"{name}" must be one of {", ".join(choices)}, not {value!r}')


def _seeded_peer(item):
    if not isinstance(item, dict):
        raise SeedError("each BGP peer must be a JSON object")
    peer = _checked_fields({"bgpPeerId": _random_id("dxpeer-"), **item}, _PEER_DEFAULTS, "BGP peer")
    if not isinstance(peer.get("bgpPeerId"), str) or not _PEER_ID.match(peer["bgpPeerId"]):
        raise SeedError(f"{peer.get('bgpPeerId')!r} is not a BGP peer ID (dxpeer- and 8 lowercase letters or digits)")
    _checked_choice(peer.get("bgpStatus"), BGP_STATUSES, "bgpStatus")
    _checked_choice(peer.get("bgpPeerState"), PEER_STATES, "bgpPeerState")
    return peer


def _seeded_interface(item, region):
    if not isinstance(item, dict):
        raise SeedError("each virtual interface must be a JSON object")
    vif = _checked_fields({"virtualInterfaceId": _random_id("dxvif-"), **item}, _VIF_DEFAULTS, "virtual interface")
    vif_id = vif.get("virtualInterfaceId")
    if not isinstance(vif_id, str) or not _VIF_ID.match(vif_id):
        raise SeedError(f"{vif_id!r} is not a virtual interface ID (dxvif- and 8 lowercase letters or digits)")
    _checked_choice(vif.get("virtualInterfaceState"), VIF_STATES, "virtualInterfaceState")
    peers = item.get("bgpPeers")
    if peers is None:
        peers = [{}]
    if not isinstance(peers, list):
        raise SeedError('"bgpPeers" must be a list')
    vif["bgpPeers"] = [_seeded_peer(peer) for peer in peers]
    peer_ids = [peer["bgpPeerId"] for peer in vif["bgpPeers"]]
    if len(set(peer_ids)) != len(peer_ids):
        raise SeedError(f"{vif_id} lists a BGP peer ID twice")
    vif.setdefault("virtualInterfaceName", vif_id)
    vif["region"] = region
    return {name: vif[name] for name in _VIF_DEFAULTS if name in vif}


def put_virtual_interfaces(items, region=DEFAULT_REGION):
    """Replace the region's virtual interfaces (dropping their tests); return them as DescribeVirtualInterfaces shows them.

    SeedError (a ValueError) for a bad item; nothing changes then.
    """
    if not isinstance(items, list):
        raise SeedError('"virtual_interfaces" must be a list')
    seeded = [_seeded_interface(item, region) for item in items]
    ids = [vif["virtualInterfaceId"] for vif in seeded]
    if len(set(ids)) != len(ids):
        raise SeedError("a virtual interface ID is listed twice")
    with _LOCK:
        _STATE.interfaces[region] = {vif["virtualInterfaceId"]: vif for vif in seeded}
        _STATE.tests = [test for test in _STATE.tests if test.region != region]
        return virtual_interfaces(region)


def _tests_of(region, vif_id=None):
    return [test for test in _STATE.tests if test.region == region and (vif_id is None or test.virtual_interface_id == vif_id)]


def _interface_view(vif, region, now):
    """The interface as DescribeVirtualInterfaces shows it at ``now``."""
    view = json.loads(json.dumps(vif))
    tests = _tests_of(region, vif["virtualInterfaceId"])
    for peer in view["bgpPeers"]:
        if any(test.holds_down(peer["bgpPeerId"], now) for test in tests):
            peer["bgpStatus"] = "down"
    if any(test.status(now) == STATUS_IN_PROGRESS for test in tests):
        view["virtualInterfaceState"] = "testing"
    return view


def virtual_interfaces(region=DEFAULT_REGION):
    """The region's virtual interfaces as DescribeVirtualInterfaces shows them now."""
    with _LOCK:
        now = _clock()
        return [_interface_view(vif, region, now) for vif in _STATE.interfaces.get(region, {}).values()]


def _newest_first(tests):
    return sorted(tests, key=lambda test: test.started_at, reverse=True)


def failover_tests(region=DEFAULT_REGION, status=None):
    """The region's tests, the most recently started first, as the history shows them plus ``heldDownPeerIds``."""
    with _LOCK:
        now = _clock()
        views = []
        for test in _newest_first(_tests_of(region)):
            if status is None or test.status(now) == status:
                views.append(dict(test.as_api(now), heldDownPeerIds=list(test.held_peer_ids)))
        return views


def settings():
    """The current time settings."""
    with _LOCK:
        return dict(_STATE.settings)


def put_settings(changes):
    """Change some time settings; return all of them.  SeedError for an unknown field or a value out of range."""
    if not isinstance(changes, dict):
        raise SeedError("the body must be a JSON object")
    unknown = sorted(set(changes) - set(_SETTING_LIMITS))
    if unknown:
        raise SeedError(f"unknown setting(s): {', '.join(unknown)}")
    for name, value in changes.items():
        low, high = _SETTING_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise SeedError(f'"{name}" must be a number from {low} to {high}')
    with _LOCK:
        _STATE.settings.update({name: float(value) for name, value in changes.items()})
        return dict(_STATE.settings)


def request_counts():
    """The Direct Connect calls answered since the last reset, by Action."""
    with _LOCK:
        return dict(_STATE.requests)


# --------------------------------------------------------------------------- the API


def _interface(region, vif_id):
    if not isinstance(vif_id, str) or not vif_id:
        raise DirectConnectError("virtualInterfaceId is required")
    vif = _STATE.interfaces.get(region, {}).get(vif_id)
    if vif is None:
        raise DirectConnectError(f"Virtual interface {vif_id} does not exist in {region}.")
    return vif


def _page(items, params):
    """One page of ``items`` by ``maxResults`` and ``nextToken`` (an offset), plus the next token."""
    limit = params.get("maxResults", MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DirectConnectError("maxResults must be a positive integer")
    limit = min(limit, MAX_RESULTS)
    token = params.get("nextToken")
    try:
        offset = int(token) if token is not None else 0
    except (TypeError, ValueError):
        raise DirectConnectError("The nextToken is not valid.") from None
    if not 0 <= offset <= len(items):
        raise DirectConnectError("The nextToken is not valid.")
    following = offset + limit
    return items[offset:following], (str(following) if following < len(items) else None)


def describe_virtual_interfaces(region, params):
    """DescribeVirtualInterfaces."""
    now = _clock()
    if params.get("virtualInterfaceId") is not None:
        found = [_interface(region, params["virtualInterfaceId"])]
    else:
        found = list(_STATE.interfaces.get(region, {}).values())
    if params.get("connectionId") is not None:
        found = [vif for vif in found if vif.get("connectionId") == params["connectionId"]]
    page, token = _page([_interface_view(vif, region, now) for vif in found], params)
    return {"virtualInterfaces": page, **({"nextToken": token} if token else {})}


def _requested_peers(vif, peers):
    if peers is None:
        return ()
    if not isinstance(peers, list) or not all(isinstance(peer, str) for peer in peers):
        raise DirectConnectError("bgpPeers must be a list of BGP peer IDs")
    known = [peer["bgpPeerId"] for peer in vif["bgpPeers"]]
    unknown = [peer for peer in peers if peer not in known]
    if unknown:
        raise DirectConnectError(f"BGP peer(s) {', '.join(unknown)} do not belong to virtual interface {vif['virtualInterfaceId']}.")
    return tuple(dict.fromkeys(peers))


def _requested_duration(params):
    minutes = params.get("testDurationInMinutes", DEFAULT_TEST_DURATION_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_TEST_DURATION_MINUTES <= minutes <= MAX_TEST_DURATION_MINUTES:
        raise DirectConnectError(
            f"testDurationInMinutes must be between {MIN_TEST_DURATION_MINUTES} and {MAX_TEST_DURATION_MINUTES} minutes, not {minutes!r}.")
    return minutes


def start_bgp_failover_test(region, params):
    """StartBgpFailoverTest."""
    vif = _interface(region, params.get("virtualInterfaceId"))
    requested = _requested_peers(vif, params.get("bgpPeers"))
    minutes = _requested_duration(params)
    now = _clock()
    if any(test.status(now) == STATUS_IN_PROGRESS for test in _tests_of(region, vif["virtualInterfaceId"])):
        raise DirectConnectError(f"A failover test is already in progress on virtual interface {vif['virtualInterfaceId']}.")
    if vif["virtualInterfaceState"] != "available":
        raise DirectConnectError(f"Virtual interface {vif['virtualInterfaceId']} is {vif['virtualInterfaceState']}, not available.")
    held = requested or tuple(peer["bgpPeerId"] for peer in vif["bgpPeers"])
    test = FailoverTest(test_id=str(uuid.uuid4()), region=region, virtual_interface_id=vif["virtualInterfaceId"], requested_peer_ids=requested,
                        held_peer_ids=held, duration_minutes=minutes, started_at=now, seconds_per_minute=_STATE.settings["seconds_per_minute"],
                        bgp_transition_seconds=_STATE.settings["bgp_transition_seconds"])
    _STATE.tests.append(test)
    return {"virtualInterfaceTest": test.as_api(now)}


def stop_bgp_failover_test(region, params):
    """StopBgpFailoverTest."""
    vif = _interface(region, params.get("virtualInterfaceId"))
    now = _clock()
    running = [test for test in _tests_of(region, vif["virtualInterfaceId"]) if test.status(now) == STATUS_IN_PROGRESS]
    if not running:
        raise DirectConnectError(f"No failover test is in progress on virtual interface {vif['virtualInterfaceId']}.")
    for test in running:
        test.stopped_at = now
    return {"virtualInterfaceTest": running[-1].as_api(now)}


def _history_filter(params, now):
    peers = params.get("bgpPeers")
    status = params.get("status")

    def keep(test):
        return ((params.get("testId") is None or test.test_id == params["testId"])
                and (params.get("virtualInterfaceId") is None or test.virtual_interface_id == params["virtualInterfaceId"])
                and (not peers or any(peer in test.held_peer_ids for peer in peers))
                and (status is None or test.status(now) == str(status).lower()))
    return keep


def list_virtual_interface_test_history(region, params):
    """ListVirtualInterfaceTestHistory."""
    now = _clock()
    keep = _history_filter(params, now)
    history = [test.as_api(now) for test in _newest_first(_tests_of(region)) if keep(test)]
    page, token = _page(history, params)
    return {"virtualInterfaceTestHistory": page, **({"nextToken": token} if token else {})}


_ACTIONS = {
    "DescribeVirtualInterfaces": describe_virtual_interfaces,
    "StartBgpFailoverTest": start_bgp_failover_test,
    "StopBgpFailoverTest": stop_bgp_failover_test,
    "ListVirtualInterfaceTestHistory": list_virtual_interface_test_history,
}


def _json_api_response(status, body):
    request_id = str(uuid.uuid4())
    return Response(json.dumps(body), status=status, content_type=JSON_CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


def _region_of(environ):
    scope = credential_scope(environ)
    return scope[0] if scope is not None else DEFAULT_REGION


def _handled_action(environ):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if environ.get("REQUEST_METHOD") != "POST" or not target.startswith(TARGET_PREFIX):
        return None
    action = target[len(TARGET_PREFIX):]
    return action if action in _ACTIONS else None


def api_response(environ):
    """The answer to a Direct Connect request this module serves, or None to leave the request to moto."""
    action = _handled_action(environ)
    if action is None:
        return None
    request = Request(environ)
    try:
        params = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        return _json_api_response(400, {"__type": "SerializationException", "message": "The request body is not JSON."})
    if not isinstance(params, dict):
        return _json_api_response(400, {"__type": "SerializationException", "message": "The request body is not a JSON object."})
    with _LOCK:
        _STATE.requests[action] += 1
        try:
            return _json_api_response(200, _ACTIONS[action](_region_of(environ), params))
        except DirectConnectError as exc:
            return _json_api_response(400, {"__type": CLIENT_EXCEPTION, "message": exc.message})


# --------------------------------------------------------------------------- control API


def _json_body(request):
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise SeedError("the body is not JSON") from None


def _virtual_interfaces_response(request):
    if request.method == "GET":
        region = request.args.get("region") or DEFAULT_REGION
        return json_response(200, {"region": region, "virtual_interfaces": virtual_interfaces(region)})
    if request.method != "PUT":
        return json_error(405, "MethodNotAllowed", "use GET or PUT")
    body = _json_body(request)
    if not isinstance(body, dict) or "virtual_interfaces" not in body:
        raise SeedError('the body must be an object with a list "virtual_interfaces"')
    region = body.get("region") or DEFAULT_REGION
    return json_response(200, {"region": region, "virtual_interfaces": put_virtual_interfaces(body["virtual_interfaces"], region)})


def _tests_response(request):
    if request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET")
    region = request.args.get("region") or DEFAULT_REGION
    return json_response(200, {"region": region, "tests": failover_tests(region, request.args.get("status"))})


def _settings_response(request):
    if request.method == "PUT":
        return json_response(200, put_settings(_json_body(request)))
    if request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET or PUT")
    return json_response(200, settings())


def _requests_response(request):
    if request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET")
    return json_response(200, {"requests": request_counts()})


_CONTROL = {
    "virtual-interfaces": _virtual_interfaces_response,
    "tests": _tests_response,
    "settings": _settings_response,
    "requests": _requests_response,
}


def control_response(request, parts):
    """Answer a control request for ``/_fidelity/directconnect/<parts>``."""
    handler = _CONTROL.get("/".join(parts))
    if handler is None:
        return json_error(404, "NotFound", f"no control resource at {request.path}")
    try:
        return handler(request)
    except SeedError as exc:
        return json_error(400, "InvalidParameterValue", str(exc))
