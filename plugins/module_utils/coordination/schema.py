# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coordination table: one DynamoDB table, any number of failover groups, a few items per group.

Key schema (both strings):

* ``failover_group`` (partition key): the group's name. IAM limits each monitor to the
  items of its own group with ``dynamodb:LeadingKeys`` on this value.
* ``record`` (sort key): what the item is:

  - ``lease``: who may change the route tables (``holder``, ``fencing``, ``expires_at``);
  - ``pin``: a path an operator fixed (``path``, ``until``, ``who``, ``why``);
  - ``monitor#<monitor_id>``: the latest view of one monitor (for status).

Times are UNIX epoch seconds as DynamoDB numbers (wall clocks of the writers; the
lease's clock-skew margin is stated in ``lease``). Reading a group is one Query on
its partition key, which returns all of its items.
"""

from __future__ import annotations

# Key attributes and the table's billing: on-demand, so a group's few calls a second cost nothing to plan for.
PARTITION_KEY = "failover_group"
SORT_KEY = "record"
BILLING_MODE = "PAY_PER_REQUEST"

# Sort-key values.
LEASE_RECORD = "lease"
PIN_RECORD = "pin"
MONITOR_RECORD_PREFIX = "monitor#"

# Attributes of the lease item.
HOLDER = "holder"  # the monitor_id of the holder
FENCING = "fencing"  # grows by one with every new holder, never goes down
EXPIRES_AT = "expires_at"  # epoch seconds, in the holder's clock
RENEWED_AT = "renewed_at"  # epoch seconds, in the holder's clock
LEASE_S = "lease_s"  # the lease duration the holder asked for

# Attributes of the pin item.
PIN_PATH = "path"  # "dx" or "vpn"
PIN_UNTIL = "until"  # epoch seconds, or absent: until released
PIN_WHO = "who"
PIN_WHY = "why"
PIN_SET_AT = "set_at"

# Attributes of a monitor's view item.
VIEW_MONITOR_ID = "monitor_id"
VIEW_UPDATED_AT = "updated_at"
VIEW_DX_STATE = "dx_state"  # the state machine's state
VIEW_DESIRED_PATH = "desired_path"  # what its probes call for (before any pin)
VIEW_ROLE = "role"  # "holder" or "standby"


def monitor_record(monitor_id):
    """The sort-key value of one monitor's view item."""
    return MONITOR_RECORD_PREFIX + monitor_id


def key(failover_group, record):
    """The DynamoDB key of one item, in the low-level client's attribute-value form."""
    return {PARTITION_KEY: {"S": failover_group}, SORT_KEY: {"S": record}}
