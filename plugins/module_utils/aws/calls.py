# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this project calls AWS, whichever the service (EC2, Direct Connect, CloudWatch, SNS).

Callers pass in a boto3 client, built by them (the modules get theirs from
AnsibleAWSModule, the monitor from its own session), usually with the
``retry_config()`` below, so credentials, endpoints and retries stay the
caller's business. An API operation is named by the client's method
(``create_route``); a failure left after botocore's retries becomes one
``AwsApiError`` that names the service and the operation as AWS spells them
("EC2 CreateRoute failed: ...").
"""

from __future__ import annotations

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:  # the callers report the missing library
    BotoCoreError = ClientError = None

from ..errors import AwsApiError

# The service name when a client has no botocore service model (a test's stand-in).
UNKNOWN_SERVICE = "AWS"


# botocore attempts per call of a route client (the first try counted): one quick second try
# for a 5xx answer or a dropped connection. More would put botocore's throttling backoff
# (a random share of 1, 2, 4 ... s) between EC2 answering again and the switch;
# throttled route calls are retried by the executor's pacer instead (pacing.py).
ROUTE_CALL_MAX_ATTEMPTS = 2


def retry_config(max_attempts=5, connect_timeout=3, read_timeout=10):
    """botocore client settings; ``max_attempts`` is botocore's ``total_max_attempts``, the first try counted.

    botocore's ``standard`` mode retries throttling (RequestLimitExceeded), 5xx
    answers and transient connection errors with jittered exponential backoff,
    within ``max_attempts`` in total (1: no retry). It has no client-side rate
    limiter: pacing route calls inside EC2's budget is the project's own
    (``pacing.Pacer``, used by ``ec2.apply_plan``), whose short capped backoff
    lets a switch finish soon after a throttling episode ends; botocore's
    ``adaptive`` mode kept the client slow for seconds after it. Clients that
    make route calls use ``ROUTE_CALL_MAX_ATTEMPTS``; a long-running caller
    retries whole attempts itself. Short timeouts keep a hung connection from
    stalling a failover.
    """
    return {
        "retries": {"mode": "standard", "total_max_attempts": max_attempts},
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }


def call(client, operation, **params):
    """Run one API call, ``client.<operation>(**params)``; return its response or raise AwsApiError."""
    response, _latency_ms = timed_call(client, operation, **params)
    return response


def timed_call(client, operation, **params):
    """Like ``call``, for callers that report how long it took: ``(response, latency_ms)``.

    The latency covers botocore's retries too, failed attempts included.
    """
    method = getattr(client, operation)
    started = time.monotonic()
    try:
        response = method(**params)
    except (ClientError, BotoCoreError) as exc:
        raise api_error(client, operation, exc, _elapsed_ms(started)) from exc
    return response, _elapsed_ms(started)


def paginate(client, operation, result_key, **params):
    """Every ``result_key`` item of every page of one paginated API call; raises AwsApiError."""
    items = []
    started = time.monotonic()
    try:
        for page in client.get_paginator(operation).paginate(**params):
            items.extend(page.get(result_key, []))
    except (ClientError, BotoCoreError) as exc:
        raise api_error(client, operation, exc, _elapsed_ms(started)) from exc
    return items


def api_error(client, operation, exc, latency_ms=None):
    """The AwsApiError for botocore's exception ``exc`` raised by ``client.<operation>``."""
    return AwsApiError(
        service_name(client), api_operation_name(client, operation), error_code(exc), error_message(exc),
        latency_ms=latency_ms, request_id=_request_id(exc),
    )


def service_name(client):
    """The service as AWS names it ("EC2", "Direct Connect", "CloudWatch", "SNS")."""
    service_model = getattr(getattr(client, "meta", None), "service_model", None)
    service_id = getattr(service_model, "service_id", None)
    return str(service_id) if service_id else UNKNOWN_SERVICE


def api_operation_name(client, operation):
    """The API's name of the client method ``operation`` ("create_route" -> "CreateRoute")."""
    api_names = getattr(getattr(client, "meta", None), "method_to_api_mapping", None) or {}
    return api_names.get(operation) or "".join(word.capitalize() for word in operation.split("_"))


def error_code(exc):
    """The error code AWS answered, or the exception's class name when there was no answer."""
    if ClientError is not None and isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "Unknown")
    return type(exc).__name__


def error_message(exc):
    """AWS's own message of the error, without botocore's wrapping; the exception's text otherwise."""
    if ClientError is not None and isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Message") or str(exc)
    return str(exc)


def _request_id(exc):
    """The request ID of AWS's answer, which AWS support asks for; None when AWS did not answer."""
    response = getattr(exc, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("RequestId")


def _elapsed_ms(started):
    return (time.monotonic() - started) * 1000.0
