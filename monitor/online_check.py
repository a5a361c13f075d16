# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a configuration can act in the account it names: the read-only check against AWS.

The offline validation (``config.py``) cannot know that a route table exists, that it
is in the VPN interface's VPC, or that a prefix list holds the destinations. The
actuator finds out on its first read, and then can only keep logging
``route_tables_invalid``. So a reload (SIGHUP) and ``--check-config --online`` read the
same things the actuator reads (``ec2.load_snapshot``, Describe calls only) before a
configuration is used, and a configuration AWS shows cannot act is refused.

A reload that drops a route table also reads that table: the VPN path's routes this
failover put there stay (nothing manages that table any more, and deleting them
silently could cut traffic the operator still sends over the VPN), so they are named in
a warning for the operator to keep or delete on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from .aws import dynamodb_client
from .metrics import Metrics
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_appliance_eni_ids
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_network_interface
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_route_tables
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import Ownership
from ansible_collections.localzones.failover.plugins.module_utils.validation import ROUTE_STRATEGY_PREFIX_LIST


@dataclass(frozen=True)
class OnlineCheck:
    """What AWS showed about a configuration: ``problems`` (it cannot act) and ``warnings``."""

    problems: tuple = ()
    warnings: tuple = ()

    @property
    def ok(self):
        return not self.problems


def online_check(config, client, dynamodb_factory=dynamodb_client):
    """Read what ``config`` manages through ``client`` (read-only) and say whether it can act.

    With ``coordination.table`` set, the group's items are read too (one Query, as the
    lease's every round does): a missing table or a denied read is a problem, since no
    monitor could ever hold the lease and none would move the routes.
    AwsApiError propagates: AWS could not be asked, which says nothing about the configuration.
    """
    problems = _coordination_problems(config, dynamodb_factory) if config.coordination.enabled else []
    try:
        snapshot = load_snapshot(
            client, config.route_table_ids, config.destination_cidrs, config.vpn_eni_id, config.probe_route_table_id,
            config.route_strategy, config.prefix_list_id, config.routes_per_table_quota,
        )
    except ValidationError as exc:
        return OnlineCheck(problems=tuple(problems + list(exc.problems)))
    if not snapshot.ownership.vpn_eni_exists:
        # The actuator can still fail back without the interface (its routes are ours), but a
        # configuration that names a missing one could never fail over: refuse it up front.
        problems.append("vpn_eni_id %s: no such network interface; this configuration could never fail over to the VPN" % config.vpn_eni_id)
    return OnlineCheck(problems=tuple(problems), warnings=tuple(snapshot.warnings))


# Answers to the group's Query that say the configuration cannot coordinate (anything else: AWS could not be asked).
TABLE_PROBLEM_CODES = ("ResourceNotFoundException", "AccessDeniedException")


def _coordination_problems(config, dynamodb_factory):
    settings = config.coordination
    try:
        read_group(dynamodb_factory(config, Metrics()), settings.table, settings.failover_group)
    except AwsApiError as exc:
        if exc.code not in TABLE_PROBLEM_CODES:
            raise
        return ["coordination.table %s: the group %s cannot be read (%s: %s); no monitor could hold the lease"
                % (settings.table, settings.failover_group, exc.code, exc.message)]
    return []


def _ownership(config, client):
    """The routes ``config`` counts as its own (the VPN interface and the tagged appliances of its VPC)."""
    eni = read_network_interface(client, config.vpn_eni_id)
    appliances = read_appliance_eni_ids(client, eni["VpcId"]) if eni is not None else frozenset()
    prefix_list_id = config.prefix_list_id if config.route_strategy == ROUTE_STRATEGY_PREFIX_LIST else None
    return Ownership(vpn_eni_id=config.vpn_eni_id, appliance_eni_ids=appliances, prefix_list_id=prefix_list_id)


def routes_left_unmanaged(old, new, client):
    """``{route_table_id: ["destination -> target", ...]}``: VPN path routes of ``old`` in the tables ``new`` drops.

    Only routes to ``old``'s destinations (or its prefix list) that ``old`` owns count:
    the routes this failover itself wrote.
    """
    dropped = [rtb for rtb in old.route_table_ids if rtb not in new.route_table_ids]
    if not dropped:
        return {}
    tables = read_route_tables(client, dropped)
    if not tables:
        return {}
    ownership = _ownership(old, client)
    managed = set(old.destination_cidrs) | ({ownership.prefix_list_id} if ownership.prefix_list_id else set())
    left = {}
    for rtb in dropped:
        table = tables.get(rtb)
        if table is None:
            continue
        routes = ["%s -> %s" % (route.destination, route.target) for route in table.routes if route.destination in managed and ownership.owns(route)]
        if routes:
            left[rtb] = routes
    return left
