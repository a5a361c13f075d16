# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structured logs: one JSON object per line on stdout, for journald and log shippers.

Every line has ``ts`` (UTC, ISO 8601 with milliseconds), ``level`` and ``event`` (a
stable name such as ``transition`` or ``route_action``), then the event's fields.
Records of other libraries (botocore) come out the same way with event ``library``.

Lines are formatted by the caller but written by a background thread, so a slow or
stuck stdout never delays a probe round; if the queue fills up, lines are dropped
and counted rather than blocking.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import math
import queue
import sys
import time

from ansible_collections.localzones.failover.plugins.module_utils import events

LOGGER_NAME = "lz_failover_monitor"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
QUEUE_SIZE = 10000


def _json_safe(value):
    """NaN and infinities are not JSON: they become null. Containers are walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(item) for item in value]
    return value


def utc_timestamp(seconds):
    """``2024-05-01T12:00:00.123Z`` for a time.time() value."""
    whole = int(seconds)
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)), int((seconds - whole) * 1000))


class JsonFormatter(logging.Formatter):
    """Turns a record into one JSON line; event fields come from ``extra={"event", "fields"}``."""

    def format(self, record):
        document = {"ts": utc_timestamp(record.created), "level": record.levelname.lower()}
        event = getattr(record, "event", None)
        if event:
            document["event"] = event
            document.update(_json_safe(getattr(record, "fields", None) or {}))
        else:
            document["event"] = events.LIBRARY
            document["logger"] = record.name
            document["message"] = record.getMessage()
        if record.exc_info:
            document["traceback"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Formats in the caller, hands the line to the writer thread; drops when the queue is full."""

    def __init__(self, line_queue):
        super().__init__(line_queue)
        self.dropped = 0

    def prepare(self, record):
        return self.format(record)

    def enqueue(self, record):
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class _LineWriter(logging.handlers.QueueListener):
    """Writes the already formatted lines to a stream, one flush per line."""

    def __init__(self, line_queue, stream):
        super().__init__(line_queue)
        self.stream = stream

    def handle(self, record):
        try:
            self.stream.write(record + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stdout gone (closed pipe): nothing useful left to do with the line


class EventLog:
    """The daemon's logger: ``log.info("transition", from_path="dx", ...)``."""

    def __init__(self, logger=None):
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def _emit(self, level, event, fields, exc_info=None):
        if self.logger.isEnabledFor(level):
            self.logger.log(level, event, extra={"event": event, "fields": fields}, exc_info=exc_info)

    def debug(self, event, **fields):
        self._emit(logging.DEBUG, event, fields)

    def info(self, event, **fields):
        self._emit(logging.INFO, event, fields)

    def warning(self, event, **fields):
        self._emit(logging.WARNING, event, fields)

    def error(self, event, **fields):
        self._emit(logging.ERROR, event, fields)

    def exception(self, event, **fields):
        """An error with the traceback of the exception being handled."""
        self._emit(logging.ERROR, event, fields, exc_info=True)


class LogSetup:
    """Installs JSON logging on stdout for the daemon's lifetime; ``close()`` flushes it."""

    def __init__(self, level="info", stream=None):
        self._queue = queue.Queue(QUEUE_SIZE)
        self.handler = _DroppingQueueHandler(self._queue)
        self.handler.setFormatter(JsonFormatter())
        self._writer = _LineWriter(self._queue, stream or sys.stdout)
        root = logging.getLogger()
        root.handlers = [self.handler]
        # Libraries speak only when something is wrong; the daemon's own logger follows log_level.
        root.setLevel(logging.WARNING)
        self.set_level(level)
        self._writer.start()

    @staticmethod
    def set_level(level):
        logging.getLogger(LOGGER_NAME).setLevel(LEVELS[level])

    @property
    def dropped(self):
        return self.handler.dropped

    def close(self):
        """Write what is queued, then end the writer thread (a second call does nothing)."""
        if self._writer is None:
            return
        self._writer.stop()
        self._writer = None
        logging.getLogger().removeHandler(self.handler)
