# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The endpoint's server (tools/endpoint/server.py): the health resource and the command line."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from harness.paths import REPO_ROOT
from harness.aws import ec2_client
from harness.aws import http_json
from tests.unit.tools.endpoint.ec2_calls import route_table

pytestmark = pytest.mark.moto


def test_control_health(ec2_endpoint):
    assert http_json("GET", f"{ec2_endpoint}/_fidelity/health") == (200, {"status": "ok"})


# --------------------------------------------------------------------------- command line


def test_cli_serves_until_sigterm(ec2_endpoint):  # the fixture provides the dummy credentials
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "tools.endpoint", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url != ec2_endpoint

        vpc_id = ec2_client(url).create_vpc(CidrBlock="198.18.0.0/16")["Vpc"]["VpcId"]
        rtb_id = ec2_client(url).create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        assert route_table(ec2_client(url), rtb_id)["PropagatingVgws"] == []
        assert http_json("GET", f"{url}/_fidelity/health")[0] == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
