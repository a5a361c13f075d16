# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's AWS modules share: their clients, the managed-route
options and reading them, and the one way they report a failure.

The module object is passed in (an AnsibleAWSModule or anything with its
``params``, ``client`` and ``fail_json``), so the core stays free of Ansible imports.
"""

from __future__ import annotations

try:
    import botocore.config
except ImportError:
    pass  # AnsibleAWSModule fails the task on a missing botocore before a client is asked for

from ..errors import FailoverError
from ..validation import ROUTE_STRATEGIES
from ..validation import ROUTE_STRATEGY_PER_ROUTE
from ..validation import validate_route_inputs
from .calls import ROUTE_CALL_MAX_ATTEMPTS
from .calls import retry_config
from .ec2 import DEFAULT_ROUTES_PER_TABLE
from .ec2 import load_snapshot


def managed_routes_argument_spec(**module_options):
    """The options documented by the ``localzones.failover.routes`` doc fragment, plus the module's own."""
    spec = dict(
        route_table_ids=dict(type="list", elements="str", required=True),
        destination_cidrs=dict(type="list", elements="str", required=True),
        vpn_eni_id=dict(type="str", required=True),
        probe_route_table_id=dict(type="str"),
        route_strategy=dict(type="str", default=ROUTE_STRATEGY_PER_ROUTE, choices=list(ROUTE_STRATEGIES)),
        prefix_list_id=dict(type="str"),
        routes_per_table_quota=dict(type="int", default=DEFAULT_ROUTES_PER_TABLE),
    )
    spec.update(module_options)
    return spec


def retrying_client(module, service, client_settings=None):
    """The module's boto3 client for ``service``, with ``client_settings`` (default: ``calls.retry_config()``)."""
    return module.client(service, config=botocore.config.Config(**(client_settings or retry_config())))


def load_managed_routes(module):
    """Validate the managed-route options, then read the route tables: ``(ec2 client, ec2.Snapshot)``.

    A bad input raises one ValidationError that lists every problem, before the first API call.
    """
    params = module.params
    route_table_ids, destinations = validate_route_inputs(
        params["route_table_ids"], params["destination_cidrs"], params["vpn_eni_id"], params["probe_route_table_id"],
        params["route_strategy"], params["prefix_list_id"],
    )
    client = retrying_client(module, "ec2", retry_config(max_attempts=ROUTE_CALL_MAX_ATTEMPTS))
    snapshot = load_snapshot(
        client, route_table_ids, destinations, params["vpn_eni_id"], params["probe_route_table_id"],
        params["route_strategy"], params["prefix_list_id"], params["routes_per_table_quota"],
    )
    return client, snapshot


def run_or_fail(module, run, failure_report=None):
    """Call ``run(module)``; a ``FailoverError`` it raises ends the task through ``fail_json_aws_error``.

    ``failure_report(error)``, when given, returns the keyword arguments the
    failure adds: a ``msg`` of its own, or what the run had done before it failed.
    """
    try:
        run(module)
    except FailoverError as error:
        fail_json_aws_error(module, error, **(failure_report(error) if failure_report else {}))


def fail_json_aws_error(module, error, msg=None, **result):
    """End the module run on ``error``, a ``FailoverError`` (``AwsApiError`` included).

    The task fails with ``msg`` (the error's own message unless a caller adds to
    it), the error's details (for an AWS failure: ``service``, ``operation``,
    ``code`` and ``request_id``) and ``result``, what the module had found or
    changed before the failure. Only the error's text and details go out, never
    the botocore exception, its traceback or the request it failed on.
    """
    failure = dict(result)
    failure.update(error.details)
    module.fail_json(msg=error.message if msg is None else msg, **failure)
