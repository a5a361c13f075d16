# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 side of route failover: read and validate route tables, execute plans.

Every call goes through ``calls`` (one error type, latency measured); callers
pass in a boto3 EC2 client built with ``calls.retry_config()``, so credentials
and endpoints stay the caller's business and this file only speaks EC2.
"""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import dataclass

from ..errors import AwsApiError
from ..errors import FailoverError
from ..errors import LeaseLostError
from ..errors import RouteConflictError
from ..errors import ValidationError
from ..routes import ACTION_CREATE
from ..routes import ACTION_DELETE
from ..routes import ACTION_REPLACE
from ..routes import Conflict
from ..routes import Ownership
from ..routes import RouteTable
from ..tags import ROLE_KEY
from ..tags import ROLE_VPN_APPLIANCE
from ..validation import ROUTE_STRATEGY_PER_ROUTE
from ..validation import ROUTE_STRATEGY_PREFIX_LIST
from .calls import call
from .calls import paginate
from .calls import timed_call
from .pacing import is_throttling
from .prefix_lists import read_prefix_list
from .prefix_lists import read_prefix_list_entries

OUTCOME_DONE = "done"
OUTCOME_ALREADY_DONE = "already-done"
# A delete or replace not made because the route stopped being the one planned for
# (another target or origin) between the plan's read and the call (ActionOutcome.reason).
OUTCOME_SKIPPED = "skipped"

# States in which a prefix list's entries are settled and a route can use it
# (ManagedPrefixList data type: the *-in-progress states are still changing).
USABLE_PREFIX_LIST_STATES = ("create-complete", "modify-complete")
# AWS-managed prefix lists (service endpoints) carry this owner instead of an account ID.
AWS_MANAGED_OWNER = "AWS"
# Routes per route table (non-propagated, counted per address family; Service Quotas code
# L-93826ACB): 500 by default on the VPC quotas page today (50 in older accounts), adjustable
# to 1,000. The setting routes_per_table_quota says what the account has; EC2's own
# RouteLimitExceeded answer is still made clear below for an account below the setting.
DEFAULT_ROUTES_PER_TABLE = 500


def read_route_tables(client, route_table_ids):
    """``{route_table_id: RouteTable}`` for the IDs that exist (absent ones are left out).

    A filter instead of RouteTableIds, so one call reports every missing table
    instead of failing on the first.
    """
    raw_tables = paginate(client, "describe_route_tables", "RouteTables", Filters=[{"Name": "route-table-id", "Values": list(route_table_ids)}])
    return {raw["RouteTableId"]: RouteTable.from_api(raw) for raw in raw_tables}


def read_network_interface(client, eni_id):
    """The DescribeNetworkInterfaces entry of ``eni_id``, or None when it does not exist."""
    response = call(client, "describe_network_interfaces", Filters=[{"Name": "network-interface-id", "Values": [eni_id]}])
    interfaces = response.get("NetworkInterfaces", [])
    return interfaces[0] if interfaces else None


def read_appliance_eni_ids(client, vpc_id):
    """IDs of the interfaces in ``vpc_id`` tagged as a VPN appliance of this failover."""
    response = call(
        client,
        "describe_network_interfaces",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "tag:%s" % ROLE_KEY, "Values": [ROLE_VPN_APPLIANCE]},
        ],
    )
    return frozenset(item["NetworkInterfaceId"] for item in response.get("NetworkInterfaces", []))


@dataclass(frozen=True)
class Snapshot:
    """Everything planning needs, read and validated in one pass."""

    tables: tuple
    destinations: tuple
    ownership: Ownership
    warnings: tuple = ()
    route_strategy: str = ROUTE_STRATEGY_PER_ROUTE


def _table_problems(route_table_ids, tables, eni, region):
    problems = []
    missing = [rtb for rtb in route_table_ids if rtb not in tables]
    if missing:
        problems.append("route table(s) %s not found in %s" % (", ".join(missing), region))
    if eni is None:
        # Without the interface the tables' own VPC is the one the ownership tags are read in.
        vpcs = sorted({tables[rtb].vpc_id for rtb in route_table_ids if rtb in tables})
        if len(vpcs) > 1:
            problems.append("route_table_ids are in several VPCs (%s); a route can only target an interface in its own VPC" % ", ".join(vpcs))
    else:
        for rtb in route_table_ids:
            if rtb in tables and tables[rtb].vpc_id != eni["VpcId"]:
                problems.append(
                    "route table %s is in %s but vpn_eni_id %s is in %s; a route can only target an interface "
                    "in its own VPC" % (rtb, tables[rtb].vpc_id, eni["NetworkInterfaceId"], eni["VpcId"])
                )
    return problems


def _destination_problems(destinations, tables):
    """Managed destinations are on-prem networks, so none may lie inside a VPC CIDR."""
    problems = []
    for table in tables:
        for destination in destinations:
            network = ipaddress.ip_network(destination)
            for local in table.local_networks():
                if local.version == network.version and (network.subnet_of(local) or local.subnet_of(network)):
                    problems.append(
                        "destination_cidrs: %s overlaps %s, the local CIDR of %s (%s); it must be an on-premises network"
                        % (destination, local, table.vpc_id, table.route_table_id)
                    )
    return problems


def _probe_table_warnings(probe_table, destinations):
    warnings = []
    for destination in destinations:
        static = probe_table.static_route(destination)
        if static is not None:
            warnings.append(
                "the probe route table %s has a static route %s -> %s, so probes there do not measure Direct Connect"
                % (probe_table.route_table_id, destination, static.target)
            )
    return warnings


def _network_family(cidr):
    return "IPv%d" % ipaddress.ip_network(cidr).version


def _prefix_list_entry_problems(prefix_list_id, entries, destinations):
    """The list must hold exactly ``destinations``: more would move networks nobody listed, fewer would leave some on DX."""
    held = {str(ipaddress.ip_network(entry, strict=False)) for entry in entries}
    missing = [destination for destination in destinations if destination not in held]
    extra = sorted(held - set(destinations))
    problems = []
    if missing:
        problems.append(
            "prefix list %s does not hold %s from destination_cidrs; their traffic would stay on DX after a failover "
            "(add them to the list)" % (prefix_list_id, ", ".join(missing))
        )
    if extra:
        problems.append(
            "prefix list %s holds %s, which destination_cidrs does not list; a failover would move that traffic too "
            "(remove them from the list or add them to destination_cidrs)" % (prefix_list_id, ", ".join(extra))
        )
    return problems


def _prefix_list_problems(prefix_list_id, prefix_list, entries, destinations, region):
    """Why the route strategy ``prefix_list`` cannot use this list (empty when it can)."""
    if prefix_list is None:
        return ["prefix_list_id %s not found in %s" % (prefix_list_id, region)]
    problems = []
    if prefix_list.get("OwnerId") == AWS_MANAGED_OWNER:
        problems.append(
            "prefix list %s (%s) is managed by AWS; route_strategy prefix_list needs a customer-managed prefix list "
            "that holds exactly destination_cidrs" % (prefix_list_id, prefix_list.get("PrefixListName"))
        )
    state = prefix_list.get("State")
    if state not in USABLE_PREFIX_LIST_STATES:
        message = prefix_list.get("StateMessage")
        problems.append(
            "prefix list %s is %s%s; it can be routed to once it is %s"
            % (prefix_list_id, state, " (%s)" % message if message else "", " or ".join(USABLE_PREFIX_LIST_STATES))
        )
    family = prefix_list.get("AddressFamily")
    other_family = [destination for destination in destinations if _network_family(destination) != family]
    if other_family:
        problems.append(
            "prefix list %s is an %s list but destination_cidrs has %s; one prefix list holds one address family, "
            "so route_strategy prefix_list needs destination_cidrs of that family only" % (prefix_list_id, family, ", ".join(other_family))
        )
    problems.extend(_prefix_list_entry_problems(prefix_list_id, entries, destinations))
    return problems


def _vpn_path_routes(destinations, family, route_strategy, prefix_list):
    """How many routes of ``family`` the VPN path adds to a table, as the quota counts them."""
    if route_strategy == ROUTE_STRATEGY_PREFIX_LIST:
        # A route to a prefix list counts as the list's MaxEntries routes, not as one.
        return (prefix_list.get("MaxEntries") or 0) if prefix_list.get("AddressFamily") == family else 0
    return sum(1 for destination in destinations if _network_family(destination) == family)


def route_quota_problems(tables, destinations, route_strategy, prefix_list, ownership, quota):
    """Tables that could not hold the VPN path within ``quota`` routes per address family.

    Checked before any change, on either path, so a failover never stops half-way on
    RouteLimitExceeded: the table's static routes that are not this project's stay, and
    the VPN path's routes come on top.
    """
    problems = []
    for table in tables:
        for family in ("IPv4", "IPv6"):
            added = _vpn_path_routes(destinations, family, route_strategy, prefix_list)
            if not added:
                continue
            kept = [route for route in table.routes if route.is_static and not ownership.owns(route) and _network_family(route.destination) == family]
            if len(kept) + added > quota:
                problems.append(
                    "route table %s would hold %d %s routes on the VPN path (%d other static routes + %d for the %s), above "
                    "routes_per_table_quota %d: raise the account's quota (Service Quotas L-93826ACB) and the setting, or free routes"
                    % (table.route_table_id, len(kept) + added, family, len(kept), added,
                       "prefix list's MaxEntries" if route_strategy == ROUTE_STRATEGY_PREFIX_LIST else "on-premises CIDRs", quota)
                )
    return problems


def _vpn_eni_warnings(eni, vpn_eni_id, region):
    """What the operator should know about the appliance's interface (None: it was deleted)."""
    if eni is None:
        # Not an input error: after the appliance is gone its routes are blackholes that
        # only failback can remove, so reading and planning for DX must still work.
        return [
            "vpn_eni_id %s not found in %s: its routes (now blackholes) are still this failover's and path dx removes "
            "them; path vpn is refused until the interface exists" % (vpn_eni_id, region)
        ]
    if eni.get("SourceDestCheck", False):
        return [
            "source/destination check is enabled on %s: the appliance will drop traffic it forwards "
            "until it is disabled" % vpn_eni_id
        ]
    return []


def load_snapshot(
        client, route_table_ids, destinations, vpn_eni_id, probe_route_table_id=None,
        route_strategy=ROUTE_STRATEGY_PER_ROUTE, prefix_list_id=None, routes_per_table_quota=DEFAULT_ROUTES_PER_TABLE):
    """Read every managed table, the VPN interface, the ownership marks and, with ``prefix_list``, the prefix list; validate them.

    A ``vpn_eni_id`` that does not exist (the appliance was deleted) is a warning,
    not a problem: the snapshot's ownership says so and ``plan_routes`` then refuses
    the VPN path only, so failback can still delete the routes to it.
    Raises ValidationError listing every problem found. Inputs must already have
    passed ``validation.validate_route_inputs`` (which also checks that
    ``prefix_list_id`` goes with ``route_strategy``).
    """
    region_name = getattr(getattr(client, "meta", None), "region_name", None)
    region = region_name or "this region"
    wanted = list(route_table_ids) + ([probe_route_table_id] if probe_route_table_id else [])
    tables = read_route_tables(client, wanted)
    eni = read_network_interface(client, vpn_eni_id)
    prefix_list, entries = None, ()
    if route_strategy == ROUTE_STRATEGY_PREFIX_LIST:
        prefix_list = read_prefix_list(client, prefix_list_id)
        entries = read_prefix_list_entries(client, prefix_list_id) if prefix_list is not None else ()

    problems = _table_problems(route_table_ids, tables, eni, region)
    if probe_route_table_id and probe_route_table_id not in tables:
        problems.append("probe_route_table_id %s not found in %s" % (probe_route_table_id, region))
    managed = [tables[rtb] for rtb in route_table_ids if rtb in tables]
    problems.extend(_destination_problems(destinations, managed))
    if route_strategy == ROUTE_STRATEGY_PREFIX_LIST:
        problems.extend(_prefix_list_problems(prefix_list_id, prefix_list, entries, destinations, region))
    if problems:
        raise ValidationError(problems)

    warnings = _vpn_eni_warnings(eni, vpn_eni_id, region)
    if probe_route_table_id:
        warnings.extend(_probe_table_warnings(tables[probe_route_table_id], destinations))

    vpc_id = eni["VpcId"] if eni is not None else managed[0].vpc_id
    ownership = Ownership(
        vpn_eni_id=vpn_eni_id, appliance_eni_ids=read_appliance_eni_ids(client, vpc_id),
        prefix_list_id=prefix_list_id if route_strategy == ROUTE_STRATEGY_PREFIX_LIST else None,
        vpn_eni_exists=eni is not None, region=region_name,
    )
    quota_problems = route_quota_problems(managed, destinations, route_strategy, prefix_list, ownership, routes_per_table_quota)
    if quota_problems:
        raise ValidationError(quota_problems)
    return Snapshot(
        tables=tuple(managed), destinations=tuple(destinations), ownership=ownership, warnings=tuple(warnings), route_strategy=route_strategy,
    )


def _destination_param(action):
    if action.destination_prefix_list_id:
        return {"DestinationPrefixListId": action.destination_prefix_list_id}
    if ipaddress.ip_network(action.destination_cidr).version == 6:
        return {"DestinationIpv6CidrBlock": action.destination_cidr}
    return {"DestinationCidrBlock": action.destination_cidr}


@dataclass(frozen=True)
class ActionOutcome:
    """What happened when one planned action ran."""

    action: object
    outcome: str
    latency_ms: float
    reason: str = None  # why a skipped action was not made

    def as_dict(self):
        result = self.action.as_dict()
        result.update(outcome=self.outcome, latency_ms=round(self.latency_ms, 1))
        if self.reason:
            result["reason"] = self.reason
        return result


class RouteRecheck:
    """Reads a table again right before the plan's first delete or replace in it, and says which routes are no longer ours.

    The plan was made from an earlier read; in between someone may have pointed a
    route elsewhere. A delete or replace is made only while the route still has the
    origin and target it was planned from (``previous_target``); otherwise it is
    skipped with the reason. One DescribeRouteTables per table and run (not one per
    route): a non-mutating call, outside the pacer's mutating buckets. Creates are
    not checked: EC2 refuses a create over an existing route (RouteAlreadyExists).
    Thread-safe, for the parallel calls of ``apply_plan``.
    """

    def __init__(self, client):
        self._client = client
        self._lock = threading.Lock()
        self._tables = {}  # route_table_id -> RouteTable, or None when it no longer exists

    def _table(self, route_table_id):
        with self._lock:
            if route_table_id not in self._tables:
                self._tables[route_table_id] = read_route_tables(self._client, [route_table_id]).get(route_table_id)
            return self._tables[route_table_id]

    def outcome_without_call(self, action):
        """An ActionOutcome when ``action`` must not be made (skipped, or already as wanted); None to make it."""
        if action.action == ACTION_CREATE:
            return None
        table = self._table(action.route_table_id)
        if table is None:
            return ActionOutcome(action, OUTCOME_SKIPPED, 0.0, reason="route table %s no longer exists" % action.route_table_id)
        current = table.prefix_list_route(action.destination) if action.destination_prefix_list_id else table.static_route(action.destination)
        if current is not None and current.is_static and current.target == action.previous_target:
            return None
        if action.action == ACTION_DELETE and current is None:
            return ActionOutcome(action, OUTCOME_ALREADY_DONE, 0.0)
        if action.action == ACTION_REPLACE and current is not None and current.is_static and current.target == action.target:
            return ActionOutcome(action, OUTCOME_ALREADY_DONE, 0.0)
        now = "is gone" if current is None else "now points at %s (origin %s)" % (current.target, current.origin)
        return ActionOutcome(action, OUTCOME_SKIPPED, 0.0, reason=(
            "the route was planned from %s -> %s but %s: changed by someone else since the plan, so it is no longer "
            "known to be ours and is left alone" % (action.destination, action.previous_target, now)
        ))


def _confirm_existing_route(client, action):
    """After RouteAlreadyExists: fine if the route now is the one we wanted, else a conflict."""
    table = read_route_tables(client, [action.route_table_id]).get(action.route_table_id)
    current = None
    if table is not None:
        current = table.prefix_list_route(action.destination) if action.destination_prefix_list_id else table.static_route(action.destination)
    if current is not None and current.target == action.target:
        return
    target = current.target if current else "unknown"
    raise RouteConflictError([Conflict(
        action.route_table_id, action.destination_cidr, target, current.state if current else "unknown",
        destination_prefix_list_id=action.destination_prefix_list_id,
    )])


def _route_limit_error(action, exc):
    """EC2's RouteLimitExceeded, said so that the operator knows which table is full and why."""
    counted = " (a route to a prefix list counts as its MaxEntries routes)" if action.destination_prefix_list_id else ""
    prefix = "%s %s failed: %s: " % (exc.service, exc.operation, exc.code)
    ec2_message = exc.message[len(prefix):] if exc.message.startswith(prefix) else exc.message
    return AwsApiError(
        exc.service, exc.operation, exc.code,
        "route table %s has reached its routes-per-table quota, so the route to %s was not added%s; raise the quota "
        "(Service Quotas L-93826ACB) or remove routes, then run again. EC2 said: %s"
        % (action.route_table_id, action.destination, counted, ec2_message),
        latency_ms=exc.latency_ms, request_id=exc.details.get("request_id"),
    )


def execute_action(client, action):
    """Run one planned action. Races that already produced the wanted state are not errors."""
    params = dict(RouteTableId=action.route_table_id, **_destination_param(action))
    if action.action != ACTION_DELETE:
        params["NetworkInterfaceId"] = action.target
    try:
        _response, latency_ms = timed_call(client, route_operation(action), **params)
    except AwsApiError as exc:
        if exc.code == "RouteLimitExceeded":
            raise _route_limit_error(action, exc) from exc
        if action.action == ACTION_CREATE and exc.code == "RouteAlreadyExists":
            _confirm_existing_route(client, action)
            return ActionOutcome(action, OUTCOME_ALREADY_DONE, exc.latency_ms or 0.0)
        if action.action == ACTION_DELETE and exc.code == "InvalidRoute.NotFound":
            return ActionOutcome(action, OUTCOME_ALREADY_DONE, exc.latency_ms or 0.0)
        raise
    return ActionOutcome(action, OUTCOME_DONE, latency_ms)


def route_operation(action):
    """The client method that runs ``action`` ("create_route"): the API action whose bucket it spends."""
    return {ACTION_CREATE: "create_route", ACTION_REPLACE: "replace_route", ACTION_DELETE: "delete_route"}[action.action]


def _check_may_write(may_write):
    """Raise LeaseLostError when ``may_write`` (None: always allowed) says no: called right before each mutating call."""
    if may_write is not None and not may_write():
        raise LeaseLostError()


def _paced_action(client, action, pacer, token_taken=False, may_write=None):
    """``execute_action`` after a token of its bucket; throttled calls wait briefly and run again.

    botocore's own backoff after a throttle grows to seconds per attempt; this one is
    capped at ``pacing.THROTTLE_CAP_S``, so the call goes out again soon after EC2
    answers again (the bucket refills meanwhile, at EC2's rate).
    """
    operation = route_operation(action)
    throttles = 0
    while True:
        if not token_taken:
            pacer.acquire(operation)
        token_taken = False
        _check_may_write(may_write)  # after the token's wait, which may be long
        try:
            return execute_action(client, action)
        except AwsApiError as exc:
            if not is_throttling(exc.code) or throttles >= pacer.throttle_retries:
                raise
            throttles += 1
            pacer.on_throttled(operation)
            pacer.sleep(pacer.throttle_delay(throttles))


def _run_action(client, action, pacer, token_taken=False, recheck=None, may_write=None):  # pylint: disable=too-many-arguments
    if recheck is not None:
        unchanged = recheck.outcome_without_call(action)
        if unchanged is not None:
            return unchanged
    if pacer is None:
        _check_may_write(may_write)
        return execute_action(client, action)
    return _paced_action(client, action, pacer, token_taken, may_write)


class _PlanRun:
    """The results of one plan's actions by position, reported in plan order as they complete."""

    def __init__(self, plan, on_outcome):
        self.actions = plan.actions
        self.results = [None] * len(plan.actions)
        self.failures = {}  # position -> exception
        self._on_outcome = on_outcome
        self._reported = 0

    def record(self, position, future):
        exc = future.exception()
        if exc is None:
            self.results[position] = future.result()
        else:
            self.failures[position] = exc

    def report_ready(self):
        """Call ``on_outcome`` for every outcome whose predecessors are all settled (plan order)."""
        while self._reported < len(self.actions) and (self.results[self._reported] is not None or self._reported in self.failures):
            outcome = self.results[self._reported]
            self._reported += 1
            if outcome is not None and self._on_outcome is not None:
                self._on_outcome(outcome)

    def outcomes(self):
        """The outcomes of the actions that were applied, in plan order."""
        return [outcome for outcome in self.results if outcome is not None]

    def raise_first_failure(self):
        """Raise the failure of the earliest failed action, with ``completed`` and ``failed_action`` set."""
        if not self.failures:
            return
        position = min(self.failures)
        exc = self.failures[position]
        if isinstance(exc, FailoverError):
            exc.completed = tuple(self.outcomes())
            exc.failed_action = self.actions[position]
            applied = {id(outcome.action) for outcome in exc.completed}
            exc.not_applied = tuple(action for index, action in enumerate(self.actions) if index != position and id(action) not in applied)
        raise exc


def _apply_sequentially(client, plan, on_outcome, pacer, recheck, may_write):  # pylint: disable=too-many-arguments
    outcomes = []
    for position, action in enumerate(plan.actions):
        try:
            outcome = _run_action(client, action, pacer, recheck=recheck, may_write=may_write)
        except FailoverError as exc:
            exc.completed = tuple(outcomes)
            exc.failed_action = action
            exc.not_applied = plan.actions[position + 1:]
            raise
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def _apply_in_parallel(client, plan, on_outcome, pacer, recheck, may_write):  # pylint: disable=too-many-arguments
    """Up to ``pacer.max_parallel_calls`` calls in flight, started in plan order, each after its token."""
    run = _PlanRun(plan, on_outcome)
    in_flight = {}  # future -> position
    with ThreadPoolExecutor(max_workers=pacer.max_parallel_calls, thread_name_prefix="route-call") as executor:
        try:
            for position, action in enumerate(plan.actions):
                _settle(run, in_flight, pacer.max_parallel_calls - 1)
                if run.failures:
                    break  # no new call after a failure; the calls in flight finish
                pacer.acquire(route_operation(action))
                _settle(run, in_flight, pacer.max_parallel_calls - 1)
                if run.failures:
                    break
                in_flight[executor.submit(_run_action, client, action, pacer, True, recheck, may_write)] = position
        finally:
            # Whatever stopped the loop (a failure, or on_outcome raising), calls in flight finish.
            for future in wait(in_flight).done:
                run.record(in_flight[future], future)
        run.report_ready()
    run.raise_first_failure()
    return run.outcomes()


def _settle(run, in_flight, at_most):
    """Record the finished calls and report what is ready; wait until at most ``at_most`` are in flight."""
    done = [future for future in in_flight if future.done()]
    if len(in_flight) - len(done) > at_most:
        done = wait(in_flight, return_when=FIRST_COMPLETED).done
    for future in done:
        run.record(in_flight.pop(future), future)
    run.report_ready()


def apply_plan(client, plan, on_outcome=None, pacer=None, may_write=None):
    """Execute every action of ``plan``; return their outcomes in plan order.

    The plan lists the tables in the order of ``route_table_ids``, so the tables
    listed first are switched first. Without a ``pacing.Pacer`` (or with one that
    allows one call at a time) the actions run one after the other; with one, up
    to ``max_parallel_calls`` calls are in flight while its buckets have tokens
    (a burst of creates goes out together, then one per token), and a throttled
    call is retried after a short wait.

    ``on_outcome`` (optional) is called in the caller's thread for each applied
    action, in plan order, so a long-running caller can log and count each call.
    On failure the FailoverError of the earliest failed action is raised with
    ``failed_action`` (that action) and ``completed`` (the outcomes of every
    action that was applied, in plan order, including parallel calls after the
    failed one) and ``not_applied`` (the plan's other actions, never made); no call
    is started after a failure, calls in flight finish. Re-running converges: a
    new read plans only what is still missing.

    A delete or replace is made only while its route is still the one planned for
    (``RouteRecheck``: one read of the table right before its first such call);
    otherwise its outcome is ``skipped``, with the reason.

    ``may_write`` (optional, a callable without arguments; the monitor passes its
    lease's ``is_writer``) is asked right before each mutating call is started,
    a throttled call's retry included: once it says no, no further call starts
    and ``errors.LeaseLostError`` is raised like any failure (``completed``,
    ``failed_action``: the action that was not started, ``not_applied``).
    """
    recheck = RouteRecheck(client)
    if pacer is None or pacer.max_parallel_calls <= 1:
        return _apply_sequentially(client, plan, on_outcome, pacer, recheck, may_write)
    return _apply_in_parallel(client, plan, on_outcome, pacer, recheck, may_write)
