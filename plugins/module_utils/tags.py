# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tags that mark what this collection made, and which interface is a VPN appliance.

One place for the modules, the daemon and, through the ``localzones.failover.failover_tags``
lookup, the roles and playbooks. ``inventories/aws/aws_ec2.yml`` repeats two of them because
an inventory plugin's configuration cannot be templated.
"""

from __future__ import annotations

# Every resource a role creates carries MANAGED_BY_KEY = <the failover's name>: teardown
# deletes by it, and the inventory finds the instances by it.
MANAGED_BY_KEY = "localzones.failover/managed-by"
# What a resource is to the failover. An interface tagged ROLE_KEY = ROLE_VPN_APPLIANCE is an
# appliance whose routes the route logic may move (plugins/module_utils/routes/model.py).
ROLE_KEY = "localzones.failover/role"
ROLE_VPN_APPLIANCE = "vpn-appliance"
ROLE_UTILITY = "utility"
# A customer-managed prefix list holding the on-premises CIDRs (route strategy prefix_list):
# lz_prefix_list only changes or deletes a list that carries it.
ROLE_ON_PREM_DESTINATIONS = "on-prem-destinations"
# The DynamoDB table the monitors of a failover group elect their one writer in:
# lz_coordination_table only changes or deletes a table that carries it.
ROLE_COORDINATION = "coordination"

# The names the lookup answers to.
BY_NAME = {
    "managed_by_key": MANAGED_BY_KEY,
    "role_key": ROLE_KEY,
    "vpn_appliance": ROLE_VPN_APPLIANCE,
    "utility": ROLE_UTILITY,
}
