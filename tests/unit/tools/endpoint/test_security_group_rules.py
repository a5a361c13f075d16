# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security group rules for a protocol without ports (tools/endpoint/security_group_rules.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.moto


def test_a_security_group_rule_for_esp_has_no_ports(ec2, vpc_id):
    group_id = ec2.create_security_group(GroupName="ipsec", Description="ipsec", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{"IpProtocol": "50", "IpRanges": [{"CidrIp": "192.0.32.10/32"}]}])
    rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    assert [(rule["IpProtocol"], rule.get("FromPort"), rule["IpRanges"]) for rule in rules] == [("50", None, [{"CidrIp": "192.0.32.10/32"}])]
