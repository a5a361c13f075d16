# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request throttling like EC2's: token buckets per account, Region and API action, and (optionally) DescribeRouteTables that lags route changes.

EC2 throttles each account per Region, and each API action has its own token
bucket: a request takes one token, an empty bucket answers HTTP 503
``RequestLimitExceeded`` ("Request limit exceeded. Account <id> has been
throttled on ec2:<Action> because it exceeded its request rate limit."), and
tokens come back continuously at the bucket's refill rate up to its capacity.
A throttled request takes no token and never reaches moto (nor a fault rule).
The default size of an action's bucket comes from its category
(``CATEGORY_SIZES``, EC2's published defaults):

* ``non-mutating`` 100 tokens, 20 per second: ``Describe*``, ``Get*``,
  ``List*``, ``Search*``;
* ``unfiltered-non-mutating`` 50, 10 per second: DescribeInstances,
  DescribeNetworkInterfaces and the other actions of
  ``UNFILTERED_NON_MUTATING_ACTIONS`` called with neither a ``Filter`` nor
  pagination (``MaxResults`` / ``NextToken``); a bucket of its own, separate
  from the same action's filtered calls;
* ``mutating`` 50, 5 per second: every other action (EC2's resource-intensive
  actions have the same size);
* ``uncategorized``: the actions EC2 sizes one by one
  (``UNCATEGORIZED_SIZES``: CreateTags and DeleteTags 100/10,
  ModifyNetworkInterfaceAttribute and CreateNetworkInterface 100/5).

The account is moto's for the request (``MOTO_ACCOUNT_ID``, the
``x-moto-account-id`` header, or the account of the SigV4 access key, else
moto's default account); the Region is the SigV4 credential scope's.

Eventual consistency (``describe_lag_ms`` > 0, whether throttling is on or
not): after CreateRoute, ReplaceRoute or DeleteRoute on a table, DescribeRouteTables answers that table's routes as
they were ``describe_lag_ms`` before the call (the other fields, and which
tables match a filter, are current).

Off by default, so tests and the lab stay fast; on from the start with
``python -m tools.endpoint --throttle`` (EC2's sizes).

Control API
-----------
* ``PUT /_fidelity/throttling`` with ``{"enabled": true, "scale": 1.0,
  "buckets": {"CreateRoute": {"capacity": 50, "refill_per_s": 5}},
  "describe_lag_ms": 0}`` replaces the settings (a missing field takes the
  value shown, ``buckets`` defaults to ``{}``), fills every bucket and zeroes
  the counters; it answers like GET.  ``buckets`` overrides the size of the
  named actions' buckets (``capacity`` > 0, ``refill_per_s`` >= 0; a missing
  one keeps the category's); ``scale`` (> 0, up to 1000) multiplies every
  capacity and refill rate, so a test can use tiny buckets;
  ``describe_lag_ms`` is 0 to 300000.  A bad body answers 400, naming every
  problem, and changes nothing.
* ``GET /_fidelity/throttling`` answers ``200 {"enabled", "scale", "buckets",
  "describe_lag_ms", "counters": [{"account", "region", "action", "category",
  "capacity", "refill_per_s", "admitted", "throttled", "tokens"}, ...]}``: one
  counter per bucket used since the last PUT or reset, ``capacity`` and
  ``refill_per_s`` after ``scale``, ``tokens`` left now.
* ``DELETE /_fidelity/throttling`` turns throttling off and zeroes the
  counters; moto's ``POST /moto-api/reset`` (reset.py) goes back to the
  settings the endpoint started with (off, or on with ``--throttle``) and zeroes
  the counters.  Both answer like GET.

Only EC2 requests that come over HTTP are throttled (protocol.ec2_request);
moto's in-process ``mock_aws`` is not.  In-process: ``configure(enabled=True,
scale=1.0, buckets=None, describe_lag_ms=0, clock=None)`` (ValueError for a bad
setting; ``clock`` is a monotonic clock in seconds, for tests),
``disable()``, ``reset()``, ``throttling_stats()``; thread-safe.
"""

from __future__ import annotations

import copy
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from dataclasses import field

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import RouteBackend
from moto.ec2.models.route_tables import RouteTable
from moto.iam.models import get_account_id_from

from .patching import original
from .patching import patch
from .protocol import DEFAULT_REGION
from .protocol import access_key_id
from .protocol import control_resource_response
from .protocol import credential_scope
from .protocol import ec2_error_response
from .protocol import ec2_request


@dataclass(frozen=True)
class BucketSize:
    """How many tokens a bucket holds and how many come back per second."""

    capacity: float
    refill_per_s: float

    def scaled(self, scale):
        """This size with capacity and refill rate multiplied by ``scale``."""
        return BucketSize(self.capacity * scale, self.refill_per_s * scale)


# EC2's default bucket sizes ("Request throttling for the Amazon EC2 API"): the one table of categories.
CATEGORY_SIZES = {
    "non-mutating": BucketSize(100, 20),
    "unfiltered-non-mutating": BucketSize(50, 10),
    "mutating": BucketSize(50, 5),
}
# The uncategorized actions (EC2 sizes each on its own) that the collection calls.
UNCATEGORIZED_SIZES = {
    "CreateTags": BucketSize(100, 10),
    "DeleteTags": BucketSize(100, 10),
    "ModifyNetworkInterfaceAttribute": BucketSize(100, 5),
    "CreateNetworkInterface": BucketSize(100, 5),
}
# Actions whose calls without a filter or pagination draw from the smaller unfiltered bucket.
UNFILTERED_NON_MUTATING_ACTIONS = frozenset((
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
))
_NON_MUTATING_ACTION = re.compile(r"^(Describe|Get|List|Search)")
_NARROWING_PARAMETER = re.compile(r"^(Filter\.|MaxResults$|NextToken$)")
# The route calls after which DescribeRouteTables lags (describe_lag_ms).
ROUTE_MUTATIONS = frozenset(("CreateRoute", "ReplaceRoute", "DeleteRoute"))

MAX_SCALE = 1000.0
MAX_DESCRIBE_LAG_MS = 300_000
_SETTINGS_FIELDS = frozenset(("enabled", "scale", "buckets", "describe_lag_ms"))
_BUCKET_FIELDS = frozenset(("capacity", "refill_per_s"))
_ACTION_NAME = re.compile(r"^[A-Za-z0-9]+$")
_THROTTLED_STATUS = 503


def category_of(action, params):
    """The bucket category of an EC2 request (``params``: its query parameters)."""
    if action in UNCATEGORIZED_SIZES:
        return "uncategorized"
    if not _NON_MUTATING_ACTION.match(action):
        return "mutating"
    if action in UNFILTERED_NON_MUTATING_ACTIONS and not any(_NARROWING_PARAMETER.match(name) for name in params):
        return "unfiltered-non-mutating"
    return "non-mutating"


def default_size(action, category):
    """EC2's default size of an action's bucket in a category."""
    return UNCATEGORIZED_SIZES[action] if category == "uncategorized" else CATEGORY_SIZES[category]


class TokenBucket:
    """A token bucket refilled continuously (tokens are a float), full when made."""

    def __init__(self, size, now):
        self.size = size
        self._tokens = float(size.capacity)
        self._updated = now

    def tokens(self, now):
        """The tokens in the bucket at ``now`` (refilled up to the capacity)."""
        elapsed = max(0.0, now - self._updated)
        return min(float(self.size.capacity), self._tokens + elapsed * self.size.refill_per_s)

    def take(self, now):
        """Take one token if there is one; whether there was (an empty bucket loses nothing)."""
        self._tokens, self._updated = self.tokens(now), max(now, self._updated)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


@dataclass(frozen=True)
class ThrottlingSettings:
    """What PUT /_fidelity/throttling sets (see the module docstring)."""

    enabled: bool = False
    scale: float = 1.0
    buckets: dict = field(default_factory=dict)
    describe_lag_ms: int = 0

    def as_dict(self):
        """The settings as the control API shows them."""
        return {"enabled": self.enabled, "scale": self.scale, "describe_lag_ms": self.describe_lag_ms,
                "buckets": {action: dict(size) for action, size in self.buckets.items()}}

    def size_of(self, action, category):
        """The size of an action's bucket: the override's fields, else the category's, times ``scale``."""
        default = default_size(action, category)
        override = self.buckets.get(action, {})
        size = BucketSize(override.get("capacity", default.capacity), override.get("refill_per_s", default.refill_per_s))
        return size.scaled(self.scale)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bucket_override_problems(action, override):
    if not isinstance(action, str) or not _ACTION_NAME.match(action):
        return [f'"buckets": {action!r} is not an EC2 Action name']
    if not isinstance(override, dict) or not override:
        return [f'"buckets.{action}" must be an object with "capacity" and/or "refill_per_s"']
    problems = [f'"buckets.{action}": unknown field {name!r}' for name in sorted(set(override) - _BUCKET_FIELDS)]
    if "capacity" in override and not (_is_number(override["capacity"]) and override["capacity"] > 0):
        problems.append(f'"buckets.{action}.capacity" must be a number > 0')
    if "refill_per_s" in override and not (_is_number(override["refill_per_s"]) and override["refill_per_s"] >= 0):
        problems.append(f'"buckets.{action}.refill_per_s" must be a number >= 0')
    return problems


def _settings_problems(spec):
    """Every problem of a settings dict given in the control API's fields (empty when it is valid)."""
    problems = [f"unknown field {name!r}" for name in sorted(set(spec) - _SETTINGS_FIELDS)]
    if not isinstance(spec.get("enabled", True), bool):
        problems.append('"enabled" must be true or false')
    scale = spec.get("scale", 1.0)
    if not (_is_number(scale) and 0 < scale <= MAX_SCALE):
        problems.append(f'"scale" must be a number > 0 and <= {MAX_SCALE:g}')
    lag = spec.get("describe_lag_ms", 0)
    if not (isinstance(lag, int) and not isinstance(lag, bool) and 0 <= lag <= MAX_DESCRIBE_LAG_MS):
        problems.append(f'"describe_lag_ms" must be an integer from 0 to {MAX_DESCRIBE_LAG_MS}')
    buckets = spec.get("buckets", {})
    if not isinstance(buckets, dict):
        problems.append('"buckets" must be an object of Action: {"capacity", "refill_per_s"}')
    else:
        for action, override in buckets.items():
            problems.extend(_bucket_override_problems(action, override))
    return problems


def checked_settings(spec):
    """ThrottlingSettings from the control API's fields (missing ones take their defaults, ``enabled`` true), or ValueError naming every problem."""
    problems = _settings_problems(spec)
    if problems:
        raise ValueError("; ".join(problems))
    buckets = {action: {name: float(value) for name, value in override.items()} for action, override in spec.get("buckets", {}).items()}
    return ThrottlingSettings(enabled=spec.get("enabled", True), scale=float(spec.get("scale", 1.0)), buckets=buckets,
                              describe_lag_ms=spec.get("describe_lag_ms", 0))


@dataclass
class _BucketCounters:
    bucket: TokenBucket
    category: str
    admitted: int = 0
    throttled: int = 0


class _RouteTableHistory:
    """The routes of tables before each recent route mutation, to answer DescribeRouteTables as of a moment ago."""

    def __init__(self):
        self._before = {}  # (account, region, rtb id) -> [(time of the mutation, routes before it)], oldest first

    def clear(self):
        """Forget every recorded table."""
        self._before.clear()

    def record(self, key, routes, now, lag_s):
        """Keep ``routes`` as the table's routes just before a mutation at ``now``; drop what is older than the lag."""
        self._prune(now, lag_s)
        self._before.setdefault(key, []).append((now, routes))

    def routes_as_of(self, key, moment):
        """The table's routes at ``moment`` if it changed since then, else None (the current routes are right)."""
        later = [routes for changed, routes in self._before.get(key, ()) if changed > moment]
        return later[0] if later else None

    def _prune(self, now, lag_s):
        for key in list(self._before):
            kept = [(changed, routes) for changed, routes in self._before[key] if changed > now - lag_s]
            if kept:
                self._before[key] = kept
            else:
                del self._before[key]


class _Throttler:
    """The settings, the buckets and their counters, and the route-table history, shared by the server's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._startup = ThrottlingSettings()
        self._settings = ThrottlingSettings()
        self._clock = time.monotonic
        self._buckets = {}  # (account, region, action, category) -> _BucketCounters
        self._history = _RouteTableHistory()

    def configure(self, settings, clock=None, startup=False):
        """Replace the settings (and the clock, when given): every bucket full, the counters zeroed."""
        with self._lock:
            self._settings = settings
            if startup:
                self._startup = settings
            if clock is not None:
                self._clock = clock
            self._buckets.clear()
            self._history.clear()

    def reset(self):
        """Back to the start-up settings and the monotonic clock, the counters zeroed."""
        self.configure(self._startup, clock=time.monotonic)

    def stats(self):
        """The settings and one counter per bucket used (see the module docstring)."""
        with self._lock:
            now = self._clock()
            counters = [{"account": account, "region": region, "action": action, "category": category,
                         "capacity": entry.bucket.size.capacity, "refill_per_s": entry.bucket.size.refill_per_s,
                         "admitted": entry.admitted, "throttled": entry.throttled, "tokens": entry.bucket.tokens(now)}
                        for (account, region, action, category), entry in sorted(self._buckets.items())]
            return {**self._settings.as_dict(), "counters": counters}

    def admit(self, account, region, request):
        """Whether the request may go on (takes a token when throttling is on; records a route table before a route mutation)."""
        with self._lock:
            now = self._clock()
            if self._settings.enabled and not self._take_token(account, region, request, now):
                return False
            if self._settings.describe_lag_ms and request.action in ROUTE_MUTATIONS:
                self._record_routes_before(account, region, request, now)
            return True

    def _take_token(self, account, region, request, now):
        category = category_of(request.action, request.params)
        key = (account, region, request.action, category)
        entry = self._buckets.get(key)
        if entry is None:
            entry = self._buckets[key] = _BucketCounters(TokenBucket(self._settings.size_of(request.action, category), now), category)
        if not entry.bucket.take(now):
            entry.throttled += 1
            return False
        entry.admitted += 1
        return True

    def _record_routes_before(self, account, region, request, now):
        rtb_id = (request.params.get("RouteTableId") or [None])[0]
        try:
            table = ec2_backends[account][region].route_tables.get(rtb_id)
        except KeyError:  # a Region moto does not know: moto answers the call with its error
            table = None
        if table is not None:
            routes = [copy.copy(route) for route in table.routes]
            self._history.record((account, region, rtb_id), routes, now, self._settings.describe_lag_ms / 1000.0)

    def lagging_routes(self, account, region, rtb_id):
        """The routes DescribeRouteTables answers for a table while it lags a mutation, or None."""
        with self._lock:
            if not self._settings.describe_lag_ms:
                return None
            return self._history.routes_as_of((account, region, rtb_id), self._clock() - self._settings.describe_lag_ms / 1000.0)


_THROTTLER = _Throttler()


def configure(enabled=True, scale=1.0, buckets=None, describe_lag_ms=0, clock=None):  # pylint: disable=too-many-arguments
    """Set throttling (see the module docstring): every bucket full, the counters zeroed.  ValueError for a bad setting."""
    settings = checked_settings({"enabled": enabled, "scale": scale, "buckets": buckets or {}, "describe_lag_ms": describe_lag_ms})
    _THROTTLER.configure(settings, clock=clock)


def configure_startup(enabled):
    """The settings the endpoint starts with and moto's reset returns to: off, or on with EC2's sizes (``--throttle``)."""
    _THROTTLER.configure(ThrottlingSettings(enabled=enabled), clock=time.monotonic, startup=True)


def disable():
    """Turn throttling off and zero the counters."""
    _THROTTLER.configure(ThrottlingSettings())


def reset():
    """Back to the start-up settings with the counters zeroed (moto's reset)."""
    _THROTTLER.reset()


def throttling_stats():
    """``{"enabled", "scale", "buckets", "describe_lag_ms", "counters": [...]}``."""
    return _THROTTLER.stats()


def request_account(environ):
    """moto's account for a request: MOTO_ACCOUNT_ID, the x-moto-account-id header, the access key's account, the default."""
    account = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if account:
        return account
    access_key = access_key_id(environ)
    return get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT_ID


def throttle_response(environ):
    """EC2's RequestLimitExceeded for an EC2 request whose bucket is empty, or None to let it go on."""
    request = ec2_request(environ)
    if request is None:
        return None
    account = request_account(environ)
    scope = credential_scope(environ)
    if _THROTTLER.admit(account, scope[0] if scope else DEFAULT_REGION, request):
        return None
    message = f"Request limit exceeded. Account {account} has been throttled on ec2:{request.action} because it exceeded its request rate limit."
    return ec2_error_response("RequestLimitExceeded", message, _THROTTLED_STATUS)


def _put_settings(body):
    _THROTTLER.configure(checked_settings(body))
    return throttling_stats()


def throttling_response(request):
    """Answer a control request for ``/_fidelity/throttling``."""
    return control_resource_response(request, throttling_stats, _put_settings, disable)


# --------------------------------------------------------------------------- DescribeRouteTables that lags


class _LaggingRouteTable(RouteTable):
    """A route table as DescribeRouteTables shows it while it lags a route mutation: its earlier routes."""

    lagging_routes = ()

    @property
    def routes(self):
        return self.lagging_routes


def _lagging_view(table, routes):
    view = copy.copy(table)
    view.__class__ = _LaggingRouteTable
    view.lagging_routes = routes
    return view


def describe_route_tables(self, route_table_ids=None, filters=None):
    """moto's DescribeRouteTables, with each table that lags a route mutation shown with its earlier routes."""
    tables = original(RouteBackend, "describe_route_tables")(self, route_table_ids, filters)
    views = []
    for table in tables:
        routes = _THROTTLER.lagging_routes(self.account_id, self.region_name, table.id)
        views.append(table if routes is None else _lagging_view(table, routes))
    return views


def install():
    """Patch moto's DescribeRouteTables (called once, by behaviours.install())."""
    patch(RouteBackend, "describe_route_tables", describe_route_tables)
