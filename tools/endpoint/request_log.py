# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request log: every API request the endpoint answered, with its caller and its time, to show who wrote when.

moto keeps no record of who called what.  Two monitors of a failover group sign
with different access keys, so a log of every request by access key shows from
the endpoint's side whether two of them ever changed routes at the same time
(writers.py reads it).

Every AWS API request that reaches the server over HTTP is recorded when it has
been answered, whatever answered it (Direct Connect, throttling, a fault rule,
moto): ``{"start", "end", "access_key_id", "service", "region", "action",
"status"}``.  ``start`` and ``end`` are the server's ``time.time()`` when the
request came in and when its answer was ready (a request a fault rule delays
spans the delay); ``access_key_id``, ``service`` and ``region`` come from the
SigV4 ``Authorization`` header (null for an unsigned request; an unsigned EC2
request has ``service`` ``ec2``), ``action`` is the query protocol's
``Action`` or the ``X-Amz-Target`` operation of the JSON protocols
(``UpdateItem``), ``status`` the HTTP status of the answer.  Requests to the
control API (``/_fidelity/``) and to moto's own API (``/moto-api/``) are not
recorded.

The log is a ring of ``CAPACITY`` (50,000) records in the order the answers were
ready; when it is full the oldest record is dropped and counted in ``dropped``,
so a reader can tell that it does not have the whole story.

Control API
-----------
* ``GET /_fidelity/requests`` answers ``200 {"requests": [...], "dropped": n,
  "capacity": 50000}``; ``?since=<epoch seconds>`` keeps the requests that
  ended at or after that time (a poller passes the last ``end`` it saw, and
  drops the records it already has).  A ``since`` that is not a number answers
  400.
* ``DELETE /_fidelity/requests`` empties the log and zeroes ``dropped``, as
  does moto's ``POST /moto-api/reset`` (reset.py); it answers like GET.

In-process: ``record(...)``, ``requests(since=None)``, ``clear()``; thread-safe.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from .protocol import CONTROL_PREFIX
from .protocol import json_error
from .protocol import json_response

CAPACITY = 50_000


class RequestLog:
    """A bounded, thread-safe ring of request records (``CAPACITY`` in the server; smaller in tests)."""

    def __init__(self, capacity):
        self._lock = threading.Lock()
        self._records = deque(maxlen=capacity)
        self._dropped = 0

    def add(self, entry):
        """Append one record; when the ring is full the oldest goes and is counted as dropped."""
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self._dropped += 1
            self._records.append(entry)

    def clear(self):
        """Empty the ring and zero the dropped count."""
        with self._lock:
            self._records.clear()
            self._dropped = 0

    def snapshot(self, since=None):
        """Copies of the records (those that ended at or after ``since``), the dropped count and the capacity."""
        with self._lock:
            records = [dict(entry) for entry in self._records if since is None or entry["end"] >= since]
            return {"requests": records, "dropped": self._dropped, "capacity": self._records.maxlen}


_LOG = RequestLog(CAPACITY)


def record(request, start, end, status):  # pylint: disable=redefined-outer-name
    """Add the record of one answered request (``request`` is a protocol.ApiRequest)."""
    _LOG.add({"start": start, "end": end, "access_key_id": request.access_key_id, "service": request.service,
              "region": request.region, "action": request.action, "status": status})


def requests(since=None):
    """``{"requests": [...], "dropped": n, "capacity": n}``; ``since``: only requests that ended at or after it."""
    return _LOG.snapshot(since)


def clear():
    """Empty the log and zero the count of dropped records."""
    _LOG.clear()


def is_recorded(path):
    """Whether a request to ``path`` goes to the log (API requests do; the control API and moto's own do not)."""
    return not path.startswith((CONTROL_PREFIX, "/moto-api"))


def requests_response(request):
    """Answer a control request for ``/_fidelity/requests``."""
    if request.method == "DELETE":
        clear()
        return json_response(200, requests())
    if request.method != "GET":
        return json_error(405, "MethodNotAllowed", "use GET or DELETE")
    since = request.args.get("since")
    if since is None:
        return json_response(200, requests())
    try:
        since_value = float(since)
    except ValueError:
        since_value = math.nan
    if math.isnan(since_value):  # NaN would keep nothing and say nothing: refuse it like any non-number
        return json_error(400, "InvalidParameterValue", '"since" must be a number of epoch seconds')
    return json_response(200, requests(since_value))
