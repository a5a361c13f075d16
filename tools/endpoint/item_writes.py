# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DynamoDB's item writes, one at a time: a conditional write is atomic in DynamoDB, and must be here too.

DynamoDB evaluates a write's condition and applies the write as one step, so of two
monitors taking the lease from the same read exactly one succeeds. moto's backend checks
the condition and then writes without a lock, so two requests served by two of the
server's threads can both pass the same condition: both monitors would hold the lease.
The endpoint therefore lets one DynamoDB item write at a time reach moto
(``serialized``); reads are not held back.
"""

from __future__ import annotations

import contextlib
import threading

from .protocol import api_request

# The DynamoDB operations that write items (each one is atomic in DynamoDB).
ITEM_WRITES = frozenset(("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"))

_LOCK = threading.Lock()


def is_item_write(environ):
    """True for a DynamoDB request that writes items."""
    request = api_request(environ)
    return request.service == "dynamodb" and request.action in ITEM_WRITES


@contextlib.contextmanager
def serialized(environ):
    """Hold the endpoint's one item-write lock around moto's answer when the request writes DynamoDB items."""
    if not is_item_write(environ):
        yield
        return
    with _LOCK:
        yield
