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
      - When it no longer exists (the appliance was deleted), the routes to it are still this
        collection's - path C(dx) removes them - but path C(vpn) is refused.
    type: str
    required: true
  probe_route_table_id:
    description:
      - The route table of the utility subnet the failover probes are sent from.
      - It must always follow Direct Connect, so it is refused in I(route_table_ids), and a
        static route in it for a managed destination is reported as a warning.
    type: str
  route_strategy:
    description:
      - How the VPN path is written into each route table.
      - C(per_route) - one static route per destination CIDR to I(vpn_eni_id); a failover costs one
        route call per CIDR and table.
      - C(prefix_list) - one route per table whose destination is the customer-managed prefix list
        I(prefix_list_id) and whose target is I(vpn_eni_id); a failover costs one route call per table.
        The list must hold exactly I(destination_cidrs) (checked before any change), all of one address
        family, and be in state C(create-complete) or C(modify-complete).
      - Under C(prefix_list), a route to I(prefix_list_id) is owned by the same rule as a static route
        (origin C(CreateRoute), target I(vpn_eni_id) or a tagged VPN appliance interface); one that
        points anywhere else is a conflict. Switching from C(per_route) converges - every table gets
        its prefix-list route before the per-CIDR static routes owned by this collection are deleted.
      - A static route for a destination CIDR outranks a route to a prefix list (EC2's route priority -
        longest prefix, then static, then prefix list, then propagated), so a foreign static route
        for a destination stays a conflict under C(prefix_list). A route to another prefix list in a
        managed table is warned about - where two prefix lists overlap, EC2 picks one of their routes at random.
      - Where C(prefix_list) is not available - prefix lists cannot be the destination of a route in a
        gateway route table; AWS documents no restriction for the route tables of Local Zone subnets
        (they follow the same routing rules as Availability Zone subnets), but verify it with a
        C(DryRun) CreateRoute to the prefix list in the target Local Zone's VPC before relying on it.
      - A route to a prefix list counts as the list's C(MaxEntries) routes against the table's
        routes-per-table quota; a table above 50 (the quota's older default) gets a warning, and
        EC2's C(RouteLimitExceeded) fails the run naming the table. Create the list with the smallest
        C(MaxEntries) that fits.
    type: str
    choices: [per_route, prefix_list]
    default: per_route
  prefix_list_id:
    description:
      - The customer-managed prefix list (C(pl-...)) that holds I(destination_cidrs).
      - Required with I(route_strategy=prefix_list), refused with C(per_route).
    type: str
  routes_per_table_quota:
    description:
      - The account's quota of routes per route table (Service Quotas code C(L-93826ACB); non-propagated
        routes, counted per address family). 500 is the default AWS documents today; older accounts have 50.
      - Before any change, every managed table must be able to hold the VPN path within it - its static
        routes that are not this collection's, plus one route per on-premises CIDR (C(per_route)) or the
        prefix list's C(MaxEntries) (C(prefix_list)), which is how EC2 counts a route to a prefix list.
        A table that cannot fails the run with one error naming it, so a failover never stops half-way on
        C(RouteLimitExceeded).
    type: int
    default: 500
"""
