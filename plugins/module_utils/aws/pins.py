# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator pin in the coordination table (DynamoDB): set it and release it (``coordination.read_group`` reads it with the rest of the group).

Thin functions over the DynamoDB low-level client, every call through ``calls``; the
rules (which pin is in force, what a request may be) are in ``coordination/pin.py``.
The pin is one item per group (sort key ``pin``): setting a pin replaces the one
before, releasing deletes it. Neither touches the lease: the holder reads the pin
with the rest of the group and follows it.
"""

from __future__ import annotations

from ..coordination import schema
from ..coordination.pin import Pin
from .calls import call


def set_pin(client, table, failover_group, pin):
    """Write ``pin`` (a ``Pin``) as the group's pin item, replacing any pin before; return the one replaced (or None)."""
    response = call(client, "put_item", TableName=table, Item=pin.to_item(failover_group), ReturnValues="ALL_OLD")
    return Pin.from_item(response.get("Attributes"))


def release_pin(client, table, failover_group):
    """Delete the group's pin item; return the pin it held (None: there was none, nothing changed)."""
    response = call(client, "delete_item", TableName=table, Key=schema.key(failover_group, schema.PIN_RECORD), ReturnValues="ALL_OLD")
    return Pin.from_item(response.get("Attributes"))
