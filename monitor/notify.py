# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Optional SNS notifications of transitions and alerts, sent from a background thread.

``submit`` never blocks: messages wait in a bounded queue, and when it is full (SNS
unreachable for a long time) new ones are dropped and counted.
"""

from __future__ import annotations

import json
import queue
import threading

from .aws import reporting_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import call
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils import events

QUEUE_SIZE = 100
SUBJECT_LIMIT = 100  # SNS refuses longer subjects


def sns_client(settings, api):
    """An SNS client for ``notifications`` settings, with the API timeouts of the EC2 client."""
    return reporting_client("sns", settings.region, settings.endpoint_url, api.connect_timeout_s, api.read_timeout_s, max_attempts=4)


class Notifier:
    """Publishes ``(subject, message)`` pairs to an SNS topic in order, best effort."""

    def __init__(self, topic_arn, client_factory, log, metrics, queue_size=QUEUE_SIZE):
        self.topic_arn = topic_arn
        self._client_factory = client_factory
        self._log = log
        self._queue = queue.Queue(queue_size)
        self._sent = metrics.notifications.labels("sent")
        self._failed = metrics.notifications.labels("failed")
        self._dropped = metrics.notifications.labels("dropped")
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._stopping = object()

    def start(self):
        self._thread.start()
        return self

    def submit(self, subject, message):
        """Queue a notification; drop it (counted) when the queue is full."""
        try:
            self._queue.put_nowait((subject, message))
        except queue.Full:
            self._dropped.inc()
            return False
        return True

    def _run(self):
        client = None
        while True:
            item = self._queue.get()
            if item is self._stopping:
                return
            subject, message = item
            try:
                client = client or self._client_factory()
                call(client, "publish", TopicArn=self.topic_arn, Subject=subject[:SUBJECT_LIMIT], Message=json.dumps(message, default=str, sort_keys=True))
            except AwsApiError as exc:
                self._lost(subject, exc.code, exc.message)
            except Exception as exc:  # pylint: disable=broad-except
                # A missing region, a bad endpoint URL: the message is lost just the same.
                self._lost(subject, type(exc).__name__, str(exc))
            else:
                self._sent.inc()

    def _lost(self, subject, code, error):
        self._failed.inc()
        self._log.warning(events.NOTIFICATION_FAILED, topic_arn=self.topic_arn, subject=subject, code=code, error=error)

    def stop(self, timeout=2.0):
        """Send what is queued (within ``timeout``), then end the thread."""
        try:
            self._queue.put(self._stopping, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
