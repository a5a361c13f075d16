# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON log format and the non-blocking writer."""

from __future__ import annotations

import io
import json
import logging
import queue
import re
import sys

import pytest

from lz_failover_monitor.logs import EventLog
from lz_failover_monitor.logs import JsonFormatter
from lz_failover_monitor.logs import LogSetup
from lz_failover_monitor.logs import utc_timestamp

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def record(event=None, fields=None, message="text", exc_info=None):
    created = logging.LogRecord("lz_failover_monitor", logging.WARNING, __file__, 1, message, None, exc_info)
    if event:
        created.event = event
        created.fields = fields
    return created


def test_an_event_is_one_json_object_with_ts_level_event_and_its_fields():
    line = JsonFormatter().format(record("transition", {"from_path": "dx", "to_path": "vpn", "evidence": {"window_loss_pct": [100.0]}}))
    assert "\n" not in line
    document = json.loads(line)
    assert list(document)[:3] == ["ts", "level", "event"]
    assert TIMESTAMP.match(document["ts"]) and document["level"] == "warning" and document["event"] == "transition"
    assert document["from_path"] == "dx" and document["evidence"] == {"window_loss_pct": [100.0]}


def test_values_json_cannot_hold_become_null_or_text():
    document = json.loads(JsonFormatter().format(record("status", {"rtt": float("nan"), "inf": [float("inf")], "when": object, "n": (1, 2)})))
    assert document["rtt"] is None and document["inf"] == [None]
    assert isinstance(document["when"], str) and document["n"] == [1, 2]


def test_library_records_and_tracebacks_are_json_too():
    exc_info = None
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    document = json.loads(JsonFormatter().format(record(message="connection pool is full", exc_info=exc_info)))
    assert document["event"] == "library" and document["message"] == "connection pool is full"
    assert "ValueError: boom" in document["traceback"]


def test_utc_timestamp_has_milliseconds():
    assert utc_timestamp(0.1234) == "1970-01-01T00:00:00.123Z"


@pytest.fixture
def logged():
    stream = io.StringIO()
    setup = LogSetup("info", stream=stream)
    try:
        yield setup, stream
    finally:
        setup.close()


def lines_of(setup, stream):
    setup.close()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_setup_writes_events_at_or_above_the_level(logged):
    setup, stream = logged
    log = EventLog()
    log.debug("noise", n=1)
    log.info("status", path="dx")
    log.error("api_error", code="Throttling")
    assert [(line["event"], line["level"]) for line in lines_of(setup, stream)] == [("status", "info"), ("api_error", "error")]


def test_debug_level_can_be_switched_on(logged):
    setup, stream = logged
    setup.set_level("debug")
    EventLog().debug("noise", n=1)
    assert [line["event"] for line in lines_of(setup, stream)] == ["noise"]


def test_library_warnings_pass_library_info_does_not(logged):
    setup, stream = logged
    logging.getLogger("botocore.something").info("chatter")
    logging.getLogger("botocore.something").warning("retrying")
    assert [line["message"] for line in lines_of(setup, stream)] == ["retrying"]


def test_a_full_queue_drops_lines_instead_of_blocking(logged):
    setup, _stream = logged
    setup.handler.queue = queue.Queue(1)  # a stand-in queue the writer thread does not drain
    log = EventLog()
    for number in range(5):
        log.info("status", n=number)
    assert setup.dropped == 4
