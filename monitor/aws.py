# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""boto3 clients for the daemon: the normal credential chain, counted requests.

Credentials come from boto3's default chain (environment, profile, and on EC2 the
instance role through IMDSv2, refreshed before they expire), so nothing here handles
keys. Every HTTP attempt, retries included, is counted by operation and result code.
"""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer


def session(region):
    import boto3

    return boto3.session.Session(region_name=region)


class RequestCounter:
    """botocore ``response-received`` handler: one count per HTTP attempt, by operation and code."""

    def __init__(self, counter):
        self._counter = counter

    def __call__(self, event_name="", parsed_response=None, exception=None, **_kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        if exception is not None:
            code = type(exception).__name__
        elif parsed_response and "Error" in parsed_response:
            code = parsed_response["Error"].get("Code") or "Unknown"
        else:
            code = "OK"
        self._counter.labels(operation, code).inc()


def reporting_client(service, region, endpoint_url, connect_timeout, read_timeout, max_attempts=2):
    """A client for a reporting service (SNS, CloudWatch): few attempts, short timeouts.

    Reporting is best effort and runs on its own thread, so a slow or failing service
    costs that thread a bounded wait and never more: botocore's standard retries
    (throttling, 5xx, connection errors) within ``max_attempts`` in total.
    """
    import botocore.config

    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts}, connect_timeout=connect_timeout, read_timeout=read_timeout,
    )
    return session(region).client(service, endpoint_url=endpoint_url, config=config)


def route_pacer(config):
    """The pacing of this monitor's route calls (``api.max_parallel_calls``, ``api.mutating_*``).

    It only sees this monitor's calls: monitors that share an account each get their
    part of the account's bucket through these settings.
    """
    api = config.api
    return Pacer(max_parallel_calls=api.max_parallel_calls, rate_per_s=api.mutating_rate_per_s, burst=api.mutating_burst)


def ec2_client(config, metrics):
    """An EC2 client for ``config`` (region, endpoint_url, api timeouts and attempts)."""
    import botocore.config

    api = config.api
    settings = retry_config(max_attempts=api.max_attempts, connect_timeout=api.connect_timeout_s, read_timeout=api.read_timeout_s)
    client_config = botocore.config.Config(**settings)
    client = session(config.region).client("ec2", endpoint_url=config.endpoint_url, config=client_config)
    client.meta.events.register("response-received.ec2", RequestCounter(metrics.api_requests))
    return client


def dynamodb_client(config, metrics):
    """A DynamoDB client for the coordination table (``coordination.region``/``endpoint_url``, resolved to the daemon's).

    Its read timeout is at most a quarter of the lease: a renewal that hangs ends well
    before the holder's writer window would, so the next round can try again.
    """
    import botocore.config

    api, settings = config.api, config.coordination
    read_timeout = min(api.read_timeout_s, max(settings.renew_interval_s, settings.lease_s / 4.0))
    client_config = botocore.config.Config(**retry_config(max_attempts=api.max_attempts, connect_timeout=api.connect_timeout_s, read_timeout=read_timeout))
    client = session(settings.region).client("dynamodb", endpoint_url=settings.endpoint_url, config=client_config)
    return client
