# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coordination table's calls (DynamoDB low-level client): read a group, take or renew the lease, release it, write a view.

One API call per function, through ``calls.call``; the rules (who may take the lease,
the fencing number) are ``coordination.lease``'s, the layout ``coordination.schema``'s.
A write whose condition no longer holds (another monitor got there first) is an answer,
not an error: the functions return None / False for it. Times are wall-clock epoch
seconds of the caller.
"""

from __future__ import annotations

from ..coordination import schema
from ..coordination.lease import LeaseRecord
from ..coordination.lease import may_acquire
from ..coordination.lease import next_fencing
from ..errors import AwsApiError
from .calls import call

CONDITION_FAILED = "ConditionalCheckFailedException"

_NAMES = {
    "#holder": schema.HOLDER,
    "#fencing": schema.FENCING,
    "#expires_at": schema.EXPIRES_AT,
    "#renewed_at": schema.RENEWED_AT,
    "#lease_s": schema.LEASE_S,
}


def _number(value):
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def read_group(client, table, group):
    """Every item of ``group`` (lease, pin, monitor views): one strongly consistent Query on the partition key."""
    response = call(
        client, "query", TableName=table, ConsistentRead=True,
        KeyConditionExpression="#pk = :group",
        ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
        ExpressionAttributeValues={":group": {"S": group}},
    )
    return response.get("Items", [])


def _take_condition(seen, now):
    """The lease is still as ``seen`` (absent, or expired with the same holder and fencing)."""
    if seen is None:
        return "attribute_not_exists(#holder)", {}
    return (
        "#holder = :seen_holder AND #fencing = :seen_fencing AND #expires_at < :now",
        {":seen_holder": {"S": seen.holder}, ":seen_fencing": _number(seen.fencing), ":now": _number(now)},
    )


def _renew_condition(seen):
    """Still mine with the fencing I hold: nobody took it meanwhile."""
    return "#holder = :me AND #fencing = :seen_fencing", {":seen_fencing": _number(seen.fencing)}


def acquire_or_renew(client, table, group, monitor_id, seen, now, lease_s):  # pylint: disable=too-many-arguments
    """Take or renew the lease with ONE conditional UpdateItem; the new LeaseRecord, or None when not acquired.

    ``seen`` is the lease as last read (``LeaseRecord`` or None when absent). The write is
    made only if ``may_acquire`` allows it, on the condition that the item is still as
    read, so between monitors racing from the same read exactly one succeeds. A new holder
    gets ``seen.fencing + 1``; a renewal keeps the fencing. A lost condition returns None.
    """
    if not may_acquire(seen, monitor_id, now):
        return None
    if seen is not None and seen.holder == monitor_id:
        condition, values = _renew_condition(seen)
    else:
        condition, values = _take_condition(seen, now)
    values.update({
        ":me": {"S": monitor_id},
        ":fencing": _number(next_fencing(seen, monitor_id)),
        ":expires_at": _number(now + lease_s),
        ":renewed_at": _number(now),
        ":lease_s": _number(lease_s),
    })
    try:
        response = call(
            client, "update_item", TableName=table, Key=schema.key(group, schema.LEASE_RECORD),
            UpdateExpression="SET #holder = :me, #fencing = :fencing, #expires_at = :expires_at, #renewed_at = :renewed_at, #lease_s = :lease_s",
            ConditionExpression=condition, ExpressionAttributeNames=_NAMES, ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
        )
    except AwsApiError as exc:
        if exc.code == CONDITION_FAILED:
            return None
        raise
    return LeaseRecord.from_item(response.get("Attributes"))


def release(client, table, group, monitor_id, fencing, now):
    """Let a standby take the lease at once: ``expires_at = now``, only if still held by me with ``fencing``; True when done."""
    try:
        call(
            client, "update_item", TableName=table, Key=schema.key(group, schema.LEASE_RECORD),
            UpdateExpression="SET #expires_at = :now",
            ConditionExpression="#holder = :me AND #fencing = :fencing",
            ExpressionAttributeNames={"#holder": schema.HOLDER, "#fencing": schema.FENCING, "#expires_at": schema.EXPIRES_AT},
            ExpressionAttributeValues={":me": {"S": monitor_id}, ":fencing": _number(fencing), ":now": _number(now)},
        )
    except AwsApiError as exc:
        if exc.code == CONDITION_FAILED:
            return False
        raise
    return True


def put_view(client, table, group, monitor_id, now, dx_state=None, desired_path=None, role=None):  # pylint: disable=too-many-arguments
    """Write this monitor's own view item (``monitor#<id>``): its state, its wish and its role, for status."""
    item = schema.key(group, schema.monitor_record(monitor_id))
    item[schema.VIEW_MONITOR_ID] = {"S": monitor_id}
    item[schema.VIEW_UPDATED_AT] = _number(now)
    for name, value in ((schema.VIEW_DX_STATE, dx_state), (schema.VIEW_DESIRED_PATH, desired_path), (schema.VIEW_ROLE, role)):
        if value is not None:
            item[name] = {"S": str(value)}
    call(client, "put_item", TableName=table, Item=item)
