# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routes: the route model, which path the tables are on, and planning; pure, no AWS calls.

* ``model``: routes and route tables as EC2 shows them, and ``Ownership``: which
  static routes are this failover's (the only ones it ever changes);
* ``paths``: ``path_of``, the one definition of which path (``dx``, ``vpn`` or
  ``mixed``) a destination or a table is on, used by the monitor and every module;
* ``plan``: the route calls that put the tables on a path, per route strategy (``aws`` runs them and
  reads the tables; ``aws.route_watch`` records their path over time).

The names of ``model``, ``paths`` and ``plan`` are importable from this package.
"""

from __future__ import annotations

from .model import Conflict
from .model import Ownership
from .model import Route
from .model import RouteTable
from .model import canonical_cidr
from .model import find_conflicts
from .model import is_prefix_list_id
from .paths import PATH_DX
from .paths import PATH_MIXED
from .paths import PATH_VPN
from .paths import carrying_route
from .paths import describe_table
from .paths import diff_view
from .paths import path_of
from .plan import ACTION_CREATE
from .plan import ACTION_DELETE
from .plan import ACTION_REPLACE
from .plan import Plan
from .plan import RouteAction
from .plan import apply_to_snapshot
from .plan import leftover_prefix_list_notes
from .plan import plan_routes
from .plan import routing_notes

__all__ = [
    "ACTION_CREATE",
    "ACTION_DELETE",
    "ACTION_REPLACE",
    "PATH_DX",
    "PATH_MIXED",
    "PATH_VPN",
    "Conflict",
    "Ownership",
    "Plan",
    "Route",
    "RouteAction",
    "RouteTable",
    "apply_to_snapshot",
    "canonical_cidr",
    "carrying_route",
    "describe_table",
    "diff_view",
    "find_conflicts",
    "is_prefix_list_id",
    "leftover_prefix_list_notes",
    "path_of",
    "plan_routes",
    "routing_notes",
]
