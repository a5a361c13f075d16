# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's monitors (one per utility host, one lease between them), seen from the host machine.

What the demo and the lab benchmarks need to know about them: each one's configuration
(its ``coordination.monitor_id``) and access key id (from the service's environment file,
``inventories/lab/group_vars/utility.yml`` gives each its own), and which one holds the
lease now (the coordination table's ``lease`` item on the lab's endpoint). Files are read
through ``/proc/<init PID>/root``, so no process is started in the machines.
"""

from __future__ import annotations

import json
import time

import boto3
import yaml

from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from lab import lab as lab_tool
from lab import topology as topo

MONITOR_UNIT = "lz-failover-monitor.service"
MONITOR_CONFIG = "/etc/lz-failover-monitor/config.yml"
MONITOR_ENVIRONMENT = "/etc/lz-failover-monitor/environment"
MONITOR_STATE = "/var/lib/lz-failover-monitor/state.json"


def read_inside(pids, machine, path):
    """A file of a lab machine, or None when it cannot be read."""
    try:
        with open("/proc/%d/root%s" % (pids[machine], path), encoding="utf-8") as handle:
            return handle.read()
    except (OSError, KeyError):
        return None


def environment_value(text, name):
    """The value of ``name`` in a systemd EnvironmentFile the monitor role wrote (``NAME="json string"``), or None."""
    for line in (text or "").splitlines():
        variable, separator, value = line.partition("=")
        if separator and variable.strip() == name:
            value = value.strip()
            return json.loads(value) if value.startswith('"') else value
    return None


def monitor_config(pids, machine):
    """The monitor's configuration document in ``machine``, or None (not converged)."""
    text = read_inside(pids, machine, MONITOR_CONFIG)
    return yaml.safe_load(text) if text else None


def monitor_access_key_id(pids, machine):
    """The access key id the monitor in ``machine`` signs with (only the id; the secret is never read out)."""
    return environment_value(read_inside(pids, machine, MONITOR_ENVIRONMENT), "AWS_ACCESS_KEY_ID")


def monitor_ids(pids):
    """``{machine: monitor_id}`` of the utility hosts whose monitor is coordinated (coordination.table set)."""
    ids = {}
    for machine in topo.UTILITY_HOSTS:
        coordination = (monitor_config(pids, machine) or {}).get("coordination") or {}
        if coordination.get("table") and coordination.get("monitor_id"):
            ids[machine] = coordination["monitor_id"]
    return ids


def coordination_of(pids):
    """``(table, failover_group, region)`` the lab's monitors share, or None when they are not coordinated."""
    for machine in topo.UTILITY_HOSTS:
        document = monitor_config(pids, machine) or {}
        coordination = document.get("coordination") or {}
        if coordination.get("table"):
            return coordination["table"], coordination["failover_group"], coordination.get("region") or document.get("region") or topo.REGION
    return None


def read_lease(table, group, region):
    """The lease item as ``{"holder", "fencing", "expires_at"}`` (None when there is none), read with the controller's key."""
    client = boto3.client("dynamodb", region_name=region, endpoint_url=topo.ENDPOINT_URL,
                          aws_access_key_id=lab_tool.AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=lab_tool.AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])
    item = client.get_item(TableName=table, Key=schema.key(group, schema.LEASE_RECORD), ConsistentRead=True).get("Item")
    if not item:
        return None
    return {"holder": item.get(schema.HOLDER, {}).get("S"), "fencing": int(item.get(schema.FENCING, {}).get("N", 0)),
            "expires_at": float(item.get(schema.EXPIRES_AT, {}).get("N", 0))}


def holder_machine(pids, default="utility"):
    """The utility host whose monitor holds a live lease; ``default`` when the monitors are not coordinated or none holds it."""
    coordination = coordination_of(pids)
    if coordination is None:
        return default
    lease = read_lease(*coordination)
    if lease is None or lease["expires_at"] < time.time():
        return default
    by_id = {monitor_id: machine for machine, monitor_id in monitor_ids(pids).items()}
    return by_id.get(lease["holder"], default)
