# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route-table change notification: a long poll that answers when a route table changes.

A client that mirrors route tables (the lab's VPC router) waits for a change
instead of polling DescribeRouteTables.  The server keeps a version number that
grows by one whenever the effective routes or associations of any route table
change (static, local and propagated routes alike: a CreateRoute, a learned
prefix set, a propagation switched on, moto's reset):

* ``GET /_fidelity/route-tables/version`` answers ``200 {"version": n}`` at once;
* ``GET /_fidelity/route-tables/version?after=N&wait=S`` answers as soon as the
  version is greater than ``N``, or after ``S`` seconds (at most 60) with the
  unchanged version; ``400`` for a bad ``after`` or ``wait``.

The server calls ``refresh_route_tables_version()`` after every request that
may change a route table (``may_change_route_tables``).  In-process:
``wait_for_route_tables_version(after, timeout)``.
"""

from __future__ import annotations

import re
import threading

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from .propagation import all_routes
from .protocol import CONTROL_PREFIX
from .protocol import json_error
from .protocol import json_response
from .routes import route_destination

MAX_VERSION_WAIT_SECONDS = 60.0
# EC2 Actions that never change anything: no need to look for a route change after them.
_READ_ONLY_ACTION = re.compile(r"^(Describe|Get|List)")


def _account_regions():
    # dict.values: only the regions already created, without making moto build the others.
    account = dict.get(ec2_backends, DEFAULT_ACCOUNT_ID)
    return list(dict.values(account)) if account is not None else []


def _route_fingerprint(route):
    target = getattr(route, "interface", None) or getattr(route, "gateway", None)
    target_id = getattr(target, "id", None) or getattr(route, "gateway_id", None)
    return (str(route_destination(route)), str(target_id), getattr(route, "origin", ""), getattr(route, "state", ""))


def _route_tables_fingerprint():
    """Everything a router mirroring the route tables depends on, as a comparable value."""
    tables = []
    for backend in _account_regions():
        for route_table in list(backend.route_tables.values()):
            routes = sorted(_route_fingerprint(route) for route in all_routes(route_table))
            associations = tuple(sorted(vars(route_table).get("_associations", {}).items()))
            tables.append((backend.region_name, route_table.id, route_table.main_association_id, associations, tuple(routes)))
    return tuple(sorted(tables))


class _RouteTableVersion:
    """A counter that grows when the route tables change, with waiting for the next change."""

    def __init__(self):
        self._condition = threading.Condition()
        self._version = 0
        self._fingerprint = None

    def refresh(self):
        """Compare the route tables with the last look; count a change.  Returns the version."""
        fingerprint = _route_tables_fingerprint()
        with self._condition:
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self._version += 1
                self._condition.notify_all()
            return self._version

    def wait_newer(self, after, timeout):
        """The version once it is greater than ``after``, or the current one after ``timeout`` seconds."""
        self.refresh()
        with self._condition:
            self._condition.wait_for(lambda: self._version > after, timeout=timeout)
            return self._version


_ROUTE_TABLE_VERSION = _RouteTableVersion()


def wait_for_route_tables_version(after, timeout):
    """Block until the route-table version is greater than ``after`` or ``timeout`` seconds passed; return it."""
    return _ROUTE_TABLE_VERSION.wait_newer(after, min(max(timeout, 0.0), MAX_VERSION_WAIT_SECONDS))


def may_change_route_tables(environ, action):
    """Whether a request may have changed a route table (moto's reset, a control PUT, an EC2 write)."""
    if environ.get("PATH_INFO", "").startswith(("/moto-api", CONTROL_PREFIX)):
        return environ.get("REQUEST_METHOD") != "GET"
    return action is not None and not _READ_ONLY_ACTION.match(action)


def route_tables_version_response(request):
    """Answer a control request for ``/_fidelity/route-tables/version``."""
    if request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET")
    try:
        after = int(request.args.get("after", "-1"))
        wait = float(request.args.get("wait", "0"))
    except ValueError:
        return json_error(400, "InvalidParameterValue", '"after" must be an integer and "wait" a number of seconds')
    if wait < 0:
        return json_error(400, "InvalidParameterValue", '"wait" must not be negative')
    return json_response(200, {"version": wait_for_route_tables_version(after, wait)})


def refresh_route_tables_version():
    """Look at the route tables after a request that may have changed them; wake the waiters on a change."""
    _ROUTE_TABLE_VERSION.refresh()
