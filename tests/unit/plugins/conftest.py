# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the unit tests of the plugins (modules and module_utils)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def stubbed_client():
    """Make real botocore clients whose answers a test scripts with botocore's Stubber: no network, no endpoint.

    ``stubbed_client("ec2")`` returns ``(client, stubber)``; every stubbed answer must have been used by the end of the test.
    """
    stubbers = []

    def make(service, secret_access_key="testing"):
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key=secret_access_key)
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return client, stubber

    yield make
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()
