# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route-table change notification (tools/endpoint/change_notification.py), which the lab's VPC router waits on."""

from __future__ import annotations

import threading
import time

import pytest

from harness.aws import http_json
from harness.aws import put_learned_prefixes

pytestmark = pytest.mark.moto

ONPREM_V4 = "198.19.0.0/24"


def version_url(endpoint_url, after=None, wait=None):
    query = "&".join("%s=%s" % (name, value) for name, value in (("after", after), ("wait", wait)) if value is not None)
    return "%s/_fidelity/route-tables/version%s" % (endpoint_url, "?" + query if query else "")


def current_version(endpoint_url):
    status, body = http_json("GET", version_url(endpoint_url))
    assert status == 200, body
    return body["version"]


def test_a_static_route_counts_as_a_change(ec2, lz_world):
    before = current_version(lz_world.endpoint_url)
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.7.0/24", NetworkInterfaceId=lz_world.vpn_eni_id)
    assert current_version(lz_world.endpoint_url) == before + 1


def test_reads_and_unrelated_calls_do_not_count(ec2, lz_world):
    before = current_version(lz_world.endpoint_url)
    ec2.describe_route_tables()
    ec2.create_tags(Resources=[lz_world.vpc_id], Tags=[{"Key": "team", "Value": "network"}])
    assert current_version(lz_world.endpoint_url) == before


def test_learned_prefixes_count_only_when_they_change(lz_world):
    before = current_version(lz_world.endpoint_url)
    put_learned_prefixes(lz_world.endpoint_url, lz_world.vgw_id, lz_world.onprem_cidrs)
    assert current_version(lz_world.endpoint_url) == before
    put_learned_prefixes(lz_world.endpoint_url, lz_world.vgw_id, [])
    assert current_version(lz_world.endpoint_url) == before + 1


def test_a_waiting_request_returns_at_the_change(lz_world):
    before = current_version(lz_world.endpoint_url)
    change_after_s, wait_s = 0.3, 5
    timer = threading.Timer(change_after_s, put_learned_prefixes, (lz_world.endpoint_url, lz_world.vgw_id, []))
    started = time.monotonic()
    timer.start()
    try:
        status, body = http_json("GET", version_url(lz_world.endpoint_url, after=before, wait=wait_s))
    finally:
        timer.join()
    waited = time.monotonic() - started
    assert status == 200 and body["version"] == before + 1
    print("answered %.3f s after the request, the change at %.1f s" % (waited, change_after_s))
    # Answered at the change (0.3 s; measured 0.303-0.306 s, loaded or not), not at the end of the 5 s wait.
    assert change_after_s - 0.05 <= waited < wait_s / 2, waited


def test_a_waiting_request_times_out_with_the_same_version(lz_world):
    before = current_version(lz_world.endpoint_url)
    started = time.monotonic()
    status, body = http_json("GET", version_url(lz_world.endpoint_url, after=before, wait=0.3))
    assert status == 200 and body["version"] == before
    assert time.monotonic() - started >= 0.25


def test_an_older_version_is_answered_at_once(lz_world):
    current = current_version(lz_world.endpoint_url)
    started = time.monotonic()
    status, body = http_json("GET", version_url(lz_world.endpoint_url, after=current - 1, wait=10))
    assert status == 200 and body["version"] == current
    assert time.monotonic() - started < 10 / 2, "answered at once, not after the 10 s wait"


@pytest.mark.parametrize("query", [{"after": "x"}, {"wait": "soon"}, {"wait": "-1"}])
def test_bad_parameters_are_refused(ec2_endpoint, query):
    status, body = http_json("GET", version_url(ec2_endpoint, **query))
    assert status == 400 and body["error"]["code"] == "InvalidParameterValue"


def test_other_methods_are_refused(ec2_endpoint):
    status, _body = http_json("PUT", version_url(ec2_endpoint), {})
    assert status == 405
