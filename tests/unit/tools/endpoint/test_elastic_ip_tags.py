# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource type of an Elastic IP's tags (tools/endpoint/elastic_ip_tags.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.moto


def test_elastic_ip_tags_have_the_resource_type_elastic_ip(ec2):
    allocation_id = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "x"}]}])["AllocationId"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [allocation_id]}, {"Name": "resource-type", "Values": ["elastic-ip"]}])["Tags"]
    assert [(tag["Key"], tag["ResourceType"]) for tag in tags] == [("Name", "elastic-ip")]
