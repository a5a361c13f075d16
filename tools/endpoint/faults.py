# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection: EC2 requests answered with errors, or slowly, the way EC2 does when it throttles, fails, or rejects credentials.

A fault rule names an ``action`` (``CreateRoute``, or ``*`` for any) and is
served to the next ``count`` EC2 requests with that Action (``-1``: until
cleared).  Two optional fields narrow or widen what it matches:

* ``access_key_id``: only requests signed with that access key (one caller:
  one monitor of a pair cut off from the API while the other still reaches
  it); null (the default) matches every caller;
* ``service``: the SigV4 service the rule is for, ``ec2`` by default, another
  one (``dynamodb``) or ``*`` for every signed AWS request.  For a service
  other than EC2 the Action is the ``X-Amz-Target`` operation of the JSON
  protocols (``UpdateItem``) or the query protocol's ``Action``, and the error
  comes in that protocol (``{"__type": code, "message": ...}``, or
  ``<ErrorResponse>``).  Direct Connect's emulated calls are answered before
  the faults (server.py) and never reach them.
  Each of those requests waits ``delay_ms``, then gets EC2's
query-protocol error body
(``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``)
with ``code``, ``message`` and HTTP ``status``; with ``code: null`` (and a
``delay_ms``) it is answered normally after the delay, a slow API.

Control API
-----------
* ``PUT /_fidelity/faults`` with ``{"action": "CreateRoute", "code":
  "RequestLimitExceeded", "status": 503, "count": 3, "delay_ms": 0,
  "message": "...", "access_key_id": null, "service": "ec2"}`` appends a rule
  and answers ``200 {"rule": {...}}``.
  Only ``action`` and one of ``code`` / ``delay_ms`` are needed: ``count``
  defaults to 1, ``delay_ms`` to 0, ``status`` and ``message`` to EC2's for the
  code (``RequestLimitExceeded`` 503, ``InternalError`` 500, ``Unavailable``
  503, ``AuthFailure`` 401, ``RequestExpired`` and ``ExpiredToken`` 400; 400 for
  other codes).  A bad body (not JSON, unknown field, ``count`` not ``-1`` or
  >= 1, ``status`` outside 400-599, ``delay_ms`` outside 0-300000, neither
  code nor delay, an ``access_key_id`` or ``service`` that is not a name)
  answers 400 and adds nothing.
* ``GET /_fidelity/faults`` answers ``200 {"rules": [{"id", "action", "code",
  "status", "count", "remaining", "delay_ms", "message", "access_key_id",
  "service"}, ...], "requests": {Action: n}, "faults": {Action: n},
  "delayed": {Action: n}}``: the active rules in order (``remaining`` -1 =
  unlimited; exhausted rules are dropped), per Action the EC2 requests seen,
  and the error responses served and the requests delayed since the last
  reset (a CreateRoute retried through three throttles shows ``requests`` 4
  and ``faults`` 3).  ``requests`` counts EC2 requests only; a request of
  another service that a rule served is counted in ``faults`` / ``delayed``
  as ``service:Action`` (``dynamodb:UpdateItem``).
* ``DELETE /_fidelity/faults`` drops the rules and zeroes the counters, as does
  moto's ``POST /moto-api/reset`` (reset.py); it answers like GET.

The rules are checked in the order they were added and the first one that
matches serves the request.  A request is EC2's when its SigV4 credential scope
names ``ec2`` (or, unsigned, it carries EC2's ``Version=2016-11-15``); its
Action is read from the query string or the form-encoded body, which is put
back for moto (protocol.api_request).  Rules apply to every region and
account, and only to requests that come over HTTP (not to moto's in-process
``mock_aws``).  In-process: ``add_fault(action, code, status=, count=,
delay_ms=, message=, access_key_id=, service=)`` (ValueError for a bad rule),
``clear_faults()``, ``fault_stats()``; thread-safe.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import replace

from .protocol import api_error_response
from .protocol import api_request
from .protocol import control_resource_response


MAX_FAULT_DELAY_MS = 300_000
# EC2's HTTP status and message for the error codes the failover has to live through.
_FAULT_DEFAULTS = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "InternalError": (500, "An internal error has occurred."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "Unavailable": (503, "The server is overloaded and can't handle the request."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "AuthFailure": (401, "AWS was not able to validate the provided access credentials"),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "RequestExpired": (400, "Request has expired."),
    "ExpiredToken": (400, "The security token included in the request is expired"),
}
_FAULT_FIELDS = frozenset(("action", "code", "status", "count", "delay_ms", "message", "access_key_id", "service"))
_ACTION_PATTERN = re.compile(r"^(\*|[A-Za-z0-9]+)$")
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9.]+$")
_ACCESS_KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9]+$")
_SERVICE_PATTERN = re.compile(r"^(\*|[a-z0-9-]+)$")
DEFAULT_SERVICE = "ec2"


@dataclass
class FaultRule:  # pylint: disable=too-many-instance-attributes
    """One fault rule; ``remaining`` -1 means until cleared."""

    rule_id: int
    action: str
    code: str | None
    status: int | None
    count: int
    delay_ms: int
    message: str | None
    remaining: int
    access_key_id: str | None = None
    service: str = DEFAULT_SERVICE

    def as_dict(self):
        """The rule as the control API shows it."""
        return {"id": self.rule_id, "action": self.action, "code": self.code, "status": self.status, "count": self.count,
                "remaining": self.remaining, "delay_ms": self.delay_ms, "message": self.message,
                "access_key_id": self.access_key_id, "service": self.service}

    def matches(self, request):
        """Whether the rule serves ``request`` (a protocol.ApiRequest)."""
        return (self.service in ("*", request.service) and self.action in ("*", request.action)
                and self.access_key_id in (None, request.access_key_id))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_caller_and_service(spec):
    """The rule's ``access_key_id`` and ``service`` (defaults: any caller, EC2), or ValueError."""
    access_key_id, service = spec.get("access_key_id"), spec.get("service", DEFAULT_SERVICE)
    if access_key_id is not None and (not isinstance(access_key_id, str) or not _ACCESS_KEY_ID_PATTERN.match(access_key_id)):
        raise ValueError('"access_key_id" must be an access key id or null')
    if not isinstance(service, str) or not _SERVICE_PATTERN.match(service):
        raise ValueError('"service" must be an AWS service name (as in the SigV4 credential scope) or "*"')
    return {"access_key_id": access_key_id, "service": service}


def _checked_fault(spec):
    """Validate a rule given as a dict of the control API fields; return its canonical fields or raise ValueError."""
    unknown = sorted(set(spec) - _FAULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    return {**_checked_answer(spec), **_checked_caller_and_service(spec)}


def _checked_answer(spec):
    """The rule's Action, count and answer (error, delay), or ValueError."""
    action, code = spec.get("action", "*"), spec.get("code")
    count, delay_ms = spec.get("count", 1), spec.get("delay_ms", 0)
    if not isinstance(action, str) or not _ACTION_PATTERN.match(action):
        raise ValueError('"action" must be an API Action name or "*"')
    if code is not None and (not isinstance(code, str) or not _CODE_PATTERN.match(code)):
        raise ValueError('"code" must be an EC2 error code or null')
    if not _is_int(count) or (count < 1 and count != -1):
        raise ValueError('"count" must be -1 (until cleared) or an integer >= 1')
    if not _is_int(delay_ms) or not 0 <= delay_ms <= MAX_FAULT_DELAY_MS:
        raise ValueError(f'"delay_ms" must be an integer from 0 to {MAX_FAULT_DELAY_MS}')
    if code is None:
        if delay_ms == 0:
            raise ValueError('a rule needs a "code" (error) or a "delay_ms" (slow answer)')
        if spec.get("status") is not None or spec.get("message") is not None:
            raise ValueError('"status" and "message" need a "code"')
        return {"action": action, "code": None, "status": None, "count": count, "delay_ms": delay_ms, "message": None}
    default_status, default_message = _FAULT_DEFAULTS.get(code, (400, f"Injected fault {code}."))
    status, message = spec.get("status", default_status), spec.get("message", default_message)
    if not _is_int(status) or not 400 <= status <= 599:
        raise ValueError('"status" must be an HTTP error status from 400 to 599')
    if not isinstance(message, str):
        raise ValueError('"message" must be a string')
    return {"action": action, "code": code, "status": status, "count": count, "delay_ms": delay_ms, "message": message}


class _FaultInjector:
    """The fault rules and per-Action counters, shared by the server's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._next_id = 1
        self._requests = Counter()
        self._faults = Counter()
        self._delayed = Counter()

    def add(self, spec):
        """Append a rule from a dict of control API fields; return it (ValueError for a bad one)."""
        fields = _checked_fault(spec)
        with self._lock:
            rule = FaultRule(rule_id=self._next_id, remaining=fields["count"], **fields)
            self._next_id += 1
            self._rules.append(rule)
            return rule.as_dict()

    def clear(self):
        """Drop every rule and zero the counters."""
        with self._lock:
            self._rules.clear()
            self._next_id = 1
            self._requests.clear()
            self._faults.clear()
            self._delayed.clear()

    def stats(self):
        """Active rules and per-Action counters (see the module docstring)."""
        with self._lock:
            return {"rules": [rule.as_dict() for rule in self._rules], "requests": dict(self._requests),
                    "faults": dict(self._faults), "delayed": dict(self._delayed)}

    def take(self, request):
        """Count an EC2 request; return a copy of the rule that serves ``request`` (one use of it spent), or None."""
        is_ec2 = request.service == DEFAULT_SERVICE
        counted_as = request.action if is_ec2 else f"{request.service}:{request.action}"
        with self._lock:
            if is_ec2:
                self._requests[counted_as] += 1
            rule = next((rule for rule in self._rules if rule.matches(request)), None)
            if rule is None:
                return None
            if rule.remaining > 0:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
            (self._faults if rule.code else self._delayed)[counted_as] += 1
            return replace(rule)


_FAULTS = _FaultInjector()


def add_fault(action="*", code=None, *, status=None, count=1, delay_ms=0, message=None,  # pylint: disable=too-many-arguments
              access_key_id=None, service=DEFAULT_SERVICE):
    """Append a fault rule (see the module docstring); return it as a dict.  ValueError for a bad rule."""
    spec = {"action": action, "code": code, "count": count, "delay_ms": delay_ms, "access_key_id": access_key_id, "service": service}
    spec.update({name: value for name, value in (("status", status), ("message", message)) if value is not None})
    return _FAULTS.add(spec)


def clear_faults():
    """Drop every fault rule and zero the request and fault counters."""
    _FAULTS.clear()


def fault_stats():
    """``{"rules": [...], "requests": {Action: n}, "faults": {Action: n}, "delayed": {Action: n}}``."""
    return _FAULTS.stats()


def fault_response(environ):
    """Apply the fault rule that matches the request: sleep, then an error Response, or None to let moto answer."""
    request = api_request(environ)
    if request.service is None or request.action is None:
        return None
    rule = _FAULTS.take(request)
    if rule is None:
        return None
    if rule.delay_ms:
        time.sleep(rule.delay_ms / 1000.0)
    return api_error_response(request, rule.code, rule.message, rule.status) if rule.code else None


def faults_response(request):
    """Answer a control request for ``/_fidelity/faults``."""
    return control_resource_response(request, fault_stats, lambda body: {"rule": _FAULTS.add(body)}, clear_faults)
