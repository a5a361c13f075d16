# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The managed routes: shared by every module that reads or moves them.
    DOCUMENTATION = r"""
options:
  route_table_ids:
    description:
      - The route tables of the production subnets whose traffic moves between the paths.
      - The tables are switched in this order, so list the most important tables first.
    type: list
    elements: str
    required: true
  destination_cidrs:
    description:
      - The on-premises networks, IPv4 or IPv6 CIDR blocks with no host bits set.
    type: list
    elements: str
    required: true
  vpn_eni_id:
    description:
      - The network interface of the VPN appliance in the Local Zone's public subnet.
    type: str
    required: true
  probe_route_table_id:
    description:
      - The route table of the utility subnet the failover probes are sent from.
      - It must always follow Direct Connect, so it is refused in I(route_table_ids), and a
        static route in it for a managed destination is reported as a warning.
    type: str
"""
