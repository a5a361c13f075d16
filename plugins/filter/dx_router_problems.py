# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dx_router_problems
author:
  - Local Zones Failover Maintainers (@localzones)
version_added: 0.1.0
short_description: Name every setting of the dx_router role that Direct Connect would not accept
description:
  - Returns one sentence per problem, an empty list when the settings are usable. The checks are Direct Connect's
    limits for the customer's end of a virtual interface's BGP session - ASNs 1 to 4294967294 and different from each
    other, the Amazon peer inside the customer address's link and not the local address, hold time 3 to 65535 with a
    shorter keepalive, BFD intervals of 300 ms or more with a multiplier of 3 or more, a 6 to 80 character MD5 key when
    one is required - and that the prefix lists hold IPv4 networks.
  - The MD5 key itself never comes in, only facts about it (C(md5_key_facts) in O(_input)), so the check can run in a task
    whose output may be shown.
options:
  _input:
    description:
      - The role's settings keyed by variable name (C(dx_router_local_asn), C(dx_router_amazon_asn),
        C(dx_router_customer_address), C(dx_router_amazon_address), C(dx_router_interface),
        C(dx_router_announced_prefixes), C(dx_router_accepted_prefixes), C(dx_router_hold_time),
        C(dx_router_keepalive_time), C(dx_router_bfd_enabled), C(dx_router_bfd_min_tx_ms), C(dx_router_bfd_min_rx_ms),
        C(dx_router_bfd_multiplier), C(dx_router_md5_required)), plus C(md5_key_facts), a dict with the key's
        C(length) and whether it is C(quotable) in a BIRD string.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse settings Direct Connect would not accept
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ {'dx_router_local_asn': 0, 'dx_router_hold_time': 0} | localzones.failover.dx_router_problems }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem; empty when the settings are usable.
  type: list
  elements: str
  sample: ["dx_router_bfd_min_tx_ms must be an integer from 300 to 255000 (Direct Connect's BFD minimum interval is 300 ms); it is 100."]
"""

from ansible_collections.localzones.failover.plugins.module_utils.bgp_settings import dx_router_problems


class FilterModule:
    """The dx_router_problems filter."""

    def filters(self):
        return {"dx_router_problems": dx_router_problems}
