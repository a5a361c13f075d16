# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPC's implicit router, emulated: route tables from the EC2 API become Linux policy routing.

Runs inside the vpc-router's network namespace.  Each VPC subnet reaches the router
through its own interface (the one holding an address inside the subnet's CIDR);
traffic coming in on it is routed by the subnet's route table, as on AWS:

* ``ip rule iif <subnet interface> lookup <table>`` (priority 1000 + n), one kernel
  table per route table (numbers from 100), and an ``unreachable default`` in each
  table, so a destination without a route is dropped instead of falling through;
* ``local``: the VPC CIDR is unreachable except for the subnets (and the endpoint
  link) the router has an interface in;
* VGW routes (propagated, or static to a ``vgw-``): via the DX link's far end;
* static routes to an ENI: via the ENI's private address; a blackhole route:
  ``blackhole``; other targets (internet gateway, NAT...): ``unreachable``.

A route to a customer-managed prefix list stands for one route per entry of the
list (read with GetManagedPrefixListEntries).  EC2's precedence decides which
route a destination gets: the longest prefix first (the kernel does that across
destinations), then, for the same destination, a static CIDR route, then a
prefix-list route, then a propagated one.

It waits on the endpoint's route-table version (``GET
/_fidelity/route-tables/version?after=N&wait=S``) rather than polling, reads the
tables on every change and applies the difference with one ``ip -batch``.  One
JSON line per change, with the wall-clock time it reached the kernel.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3

from lab import topology as topo

RULE_PRIORITY_BASE = 1000
RULE_PRIORITY_LAST = 1099
FIRST_TABLE = 100
LONG_POLL_SECONDS = 20
ORIGIN_PROPAGATED = "EnableVgwRoutePropagation"
ORIGIN_STATIC = "CreateRoute"

# For one destination, the kind of route that wins (lowest first), as EC2 ranks them.
KIND_STATIC = 0
KIND_PREFIX_LIST = 1
KIND_PROPAGATED = 2


def emit(event, **fields):
    print(json.dumps(dict(fields, event=event, time=round(time.time(), 3))), flush=True)


def ip_json(*argv, missing_ok=False):
    """``ip -j ARGV`` decoded; with ``missing_ok`` a table that does not exist yet reads as empty."""
    completed = subprocess.run(["ip", "-j"] + list(argv), capture_output=True, text=True, check=False, timeout=10)
    if completed.returncode != 0:
        if missing_ok and "does not exist" in completed.stderr:
            return []
        raise subprocess.CalledProcessError(completed.returncode, ["ip", "-j"] + list(argv), completed.stdout, completed.stderr)
    return json.loads(completed.stdout or "[]")


# --------------------------------------------------------------------------- what the API says


def wait_for_version(endpoint, after, wait):
    url = "%s/_fidelity/route-tables/version?after=%d&wait=%s" % (endpoint, after, wait)
    with urllib.request.urlopen(url, timeout=wait + 10) as response:
        return json.loads(response.read())["version"]


def read_prefix_list_entries(ec2, route_tables):
    """``{prefix list ID: [CIDR, ...]}`` for every prefix list a route of ``route_tables`` goes to."""
    ids = sorted({route["DestinationPrefixListId"] for table in route_tables for route in table.get("Routes", [])
                  if route.get("DestinationPrefixListId")})
    entries = {}
    for prefix_list_id in ids:
        pages = ec2.get_paginator("get_managed_prefix_list_entries").paginate(PrefixListId=prefix_list_id)
        entries[prefix_list_id] = [entry["Cidr"] for page in pages for entry in page.get("Entries", [])]
    return entries


def read_api(ec2):
    """Route tables, prefix lists, subnets, VPC CIDRs and ENI addresses: everything the kernel state is made from."""
    route_tables = ec2.describe_route_tables()["RouteTables"]
    return {
        "route_tables": route_tables,
        "prefix_list_entries": read_prefix_list_entries(ec2, route_tables),
        "subnets": ec2.describe_subnets()["Subnets"],
        "vpc_cidrs": {vpc["VpcId"]: [block["CidrBlock"] for block in vpc.get("CidrBlockAssociationSet", [])] or [vpc["CidrBlock"]]
                      for vpc in ec2.describe_vpcs()["Vpcs"]},
        "eni_addresses": {eni["NetworkInterfaceId"]: eni.get("PrivateIpAddress") for eni in ec2.describe_network_interfaces()["NetworkInterfaces"]},
    }


# --------------------------------------------------------------------------- what the kernel should hold


def local_networks():
    """``[(network, device)]`` of every IPv4 address on this router's interfaces."""
    networks = []
    for link in ip_json("address", "show"):
        for address in link.get("addr_info", []):
            if address.get("family") == "inet" and link["ifname"] != "lo":
                networks.append((ipaddress.ip_interface("%s/%d" % (address["local"], address["prefixlen"])).network, link["ifname"]))
    return networks


def subnet_devices(subnets, networks):
    """``{subnet_id: device}`` for the subnets this router has an interface in."""
    devices = {}
    for subnet in subnets:
        cidr = ipaddress.ip_network(subnet["CidrBlock"])
        device = next((dev for network, dev in networks if network == cidr), None)
        if device:
            devices[subnet["SubnetId"]] = (device, subnet["VpcId"])
    return devices


def route_table_of_subnet(route_tables, subnet_id, vpc_id):
    """The table associated with the subnet, or the VPC's main table."""
    for table in route_tables:
        if any(assoc.get("SubnetId") == subnet_id for assoc in table.get("Associations", [])):
            return table
    return next((table for table in route_tables if table["VpcId"] == vpc_id and any(a.get("Main") for a in table.get("Associations", []))), None)


def route_kind(route):
    """Where a route ranks among the routes of one destination (KIND_*)."""
    if route.get("DestinationPrefixListId"):
        return KIND_PREFIX_LIST
    return KIND_PROPAGATED if route.get("Origin") == ORIGIN_PROPAGATED else KIND_STATIC


def expanded_routes(table, prefix_list_entries):
    """``[(destination, route)]``: each route of the table, a prefix-list route once per entry of its list (IPv4 only)."""
    expanded = []
    for route in table.get("Routes", []):
        prefix_list_id = route.get("DestinationPrefixListId")
        if prefix_list_id:
            expanded.extend((cidr, route) for cidr in prefix_list_entries.get(prefix_list_id, []) if ipaddress.ip_network(cidr).version == 4)
        elif route.get("DestinationCidrBlock"):
            expanded.append((route["DestinationCidrBlock"], route))
    return expanded


def effective_routes(table, prefix_list_entries=None):
    """``{destination: route}``: for each destination the route EC2 uses, static before prefix-list before propagated.

    Across destinations the longest prefix wins, which the kernel does itself: a
    more specific propagated route still beats a less specific prefix-list entry.
    """
    chosen = {}
    for destination, route in expanded_routes(table, prefix_list_entries or {}):
        destination = str(ipaddress.ip_network(destination))
        current = chosen.get(destination)
        if current is None or route_kind(route) < route_kind(current):
            chosen[destination] = route
    return chosen


def kernel_route(route, api, dx_next_hop):
    """The ``ip route`` arguments (after the destination) for one API route."""
    if route.get("State") == "blackhole":
        return "blackhole"
    gateway = route.get("GatewayId", "")
    if gateway.startswith("vgw-"):
        return "via %s" % dx_next_hop
    interface = route.get("NetworkInterfaceId")
    if interface and api["eni_addresses"].get(interface):
        return "via %s" % api["eni_addresses"][interface]
    return "unreachable"


def desired_table(table, api, networks, dx_next_hop):
    """``{destination: spec}`` for one route table."""
    routes = {"default": "unreachable"}
    vpc_cidrs = api["vpc_cidrs"].get(table["VpcId"], [])
    for destination, route in effective_routes(table, api.get("prefix_list_entries")).items():
        if route.get("GatewayId") == "local":
            continue  # below: the local route is made of the router's own interfaces
        routes["default" if destination == "0.0.0.0/0" else destination] = kernel_route(route, api, dx_next_hop)
    for cidr in vpc_cidrs:
        vpc = ipaddress.ip_network(cidr)
        routes[str(vpc)] = "unreachable"
        for network, device in networks:
            if network.subnet_of(vpc):
                routes[str(network)] = "dev %s" % device
    return routes


def desired_state(api, networks, dx_next_hop, table_numbers):
    """``(rules, tables)``: ``{device: table number}`` and ``{table number: {destination: spec}}``."""
    rules, tables = {}, {}
    for subnet_id, (device, vpc_id) in sorted(subnet_devices(api["subnets"], networks).items()):
        table = route_table_of_subnet(api["route_tables"], subnet_id, vpc_id)
        if table is None:
            continue
        number = table_numbers.setdefault(table["RouteTableId"], FIRST_TABLE + len(table_numbers))
        rules[device] = number
        tables[number] = desired_table(table, api, networks, dx_next_hop)
    return rules, tables


# --------------------------------------------------------------------------- what the kernel holds


def current_rules():
    return {rule["iif"]: int(rule["table"]) for rule in ip_json("rule", "show")
            if RULE_PRIORITY_BASE <= rule.get("priority", 0) <= RULE_PRIORITY_LAST and "iif" in rule}


def route_spec(route):
    kind = route.get("type", "unicast")
    if kind in ("unreachable", "blackhole"):
        return kind
    if "gateway" in route:
        return "via %s" % route["gateway"]
    return "dev %s" % route["dev"]


def current_table(number):
    return {route["dst"]: route_spec(route) for route in ip_json("route", "show", "table", str(number), missing_ok=True)}


def route_arguments(destination, spec):
    """``ip route`` wants the type before the destination (``unreachable 198.18.0.0/16``) and the next hop after it."""
    return "%s %s" % (spec, destination) if spec in ("unreachable", "blackhole") else "%s %s" % (destination, spec)


def batch_commands(rules, tables, table_numbers):
    """The ``ip -batch`` lines that turn the kernel's state into the desired one, and a summary of the changes."""
    commands, changes = [], []
    for number in sorted(set(table_numbers.values())):
        have, want = current_table(number), tables.get(number, {})
        for destination, spec in sorted(want.items()):
            if have.get(destination) != spec:
                commands.append("route replace %s table %d" % (route_arguments(destination, spec), number))
                changes.append({"table": number, "destination": destination, "route": spec, "was": have.get(destination)})
        for destination in sorted(set(have) - set(want)):
            commands.append("route del %s table %d" % (destination, number))
            changes.append({"table": number, "destination": destination, "route": None, "was": have[destination]})
    have_rules = current_rules()
    for device, number in sorted(have_rules.items()):
        if rules.get(device) != number:
            commands.append("rule del iif %s lookup %d" % (device, number))
    for index, (device, number) in enumerate(sorted(rules.items())):
        if have_rules.get(device) != number:
            commands.append("rule add iif %s lookup %d priority %d" % (device, number, RULE_PRIORITY_BASE + index))
            changes.append({"rule": device, "table": number})
    return commands, changes


def apply(commands):
    if commands:
        subprocess.run(["ip", "-batch", "-"], input="\n".join(commands) + "\n", text=True, capture_output=True, check=True, timeout=10)


# --------------------------------------------------------------------------- loop


class Agent:
    """Mirrors the route tables into the kernel whenever the endpoint's route-table version moves."""

    def __init__(self, args):
        self.args = args
        self.ec2 = boto3.client("ec2", region_name=topo.REGION, endpoint_url=args.endpoint)
        self.table_numbers = {}

    def sync(self, version, seen_at):
        api = read_api(self.ec2)
        rules, tables = desired_state(api, local_networks(), self.args.dx_next_hop, self.table_numbers)
        commands, changes = batch_commands(rules, tables, self.table_numbers)
        apply(commands)
        if changes:
            emit("kernel-routes-changed", version=version, changes=changes, api_to_kernel_ms=round((time.time() - seen_at) * 1000, 1),
                 tables=dict(self.table_numbers))

    def run(self, stop):
        emit("started", endpoint=self.args.endpoint)
        version = -1
        while not stop.is_set():
            try:
                newer = wait_for_version(self.args.endpoint, version, 0 if version < 0 else LONG_POLL_SECONDS)
                seen_at = time.time()
                if newer != version:
                    self.sync(newer, seen_at)
                    version = newer
            except (OSError, urllib.error.URLError, subprocess.CalledProcessError, ValueError) as error:
                emit("error", message=str(error))
                stop.wait(1.0)
            except Exception as error:  # pylint: disable=broad-exception-caught  # botocore errors: retry, say why
                emit("error", message=str(error))
                stop.wait(1.0)
        emit("stopped")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Program the lab VPC router's policy routing from the EC2 route tables.")
    parser.add_argument("--endpoint", default=topo.ENDPOINT_URL)
    parser.add_argument("--dx-next-hop", default=topo.DX_ONPREM_ADDRESS, help="where VGW routes go (the DX link's on-premises end)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    stop = threading.Event()

    def stop_now(*_):
        # The loop is usually inside a long poll: leave it at once rather than after the wait.
        stop.set()
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_now)
    Agent(args).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
