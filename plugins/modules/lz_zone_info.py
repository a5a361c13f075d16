#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_zone_info
version_added: 0.1.0
short_description: Describe zones, Local Zones included, whatever the account's opt-in status
description:
  - Describes availability zones, Local Zones and Wavelength Zones of a region, by name, with their
    type, zone group, parent zone and the account's opt-in status for the group.
  - Unlike M(amazon.aws.aws_az_info) it always asks with C(AllAvailabilityZones), so a Local Zone the
    account has not opted in to is reported as C(not-opted-in) instead of being left out, and a
    playbook can say exactly which zone group to opt in to.
  - Optionally lists the instance types each zone offers (C(DescribeInstanceTypeOfferings) with
    location type C(availability-zone)), which is how a playbook can refuse an instance type a
    Local Zone does not have before it creates anything.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  zone_names:
    description:
      - The zones to describe, for example C(us-east-1-bos-1a).
      - Names the region does not have are returned in RV(missing_zone_names), not as an error.
    type: list
    elements: str
    required: true
  instance_type_offerings:
    description:
      - Also list, for each zone, the instance types it offers (RV(zones[].instance_types)).
    type: bool
    default: false
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.attributes.read_only
  - localzones.failover.aws_attributes
  - localzones.failover.aws_connection
seealso:
  - module: amazon.aws.aws_az_info
"""

EXAMPLES = r"""
- name: Describe the Local Zone and what it offers
  localzones.failover.lz_zone_info:
    region: us-east-1
    zone_names: [us-east-1-bos-1a]
    instance_type_offerings: true
  register: zone_info

- name: Refuse a zone the account has not opted in to
  ansible.builtin.assert:
    that: zone_info.zones[0].opt_in_status != 'not-opted-in'
    fail_msg: "Opt in to the zone group {{ zone_info.zones[0].group_name }} first"
"""

RETURN = r"""
zones:
  description: The zones found, in the order of O(zone_names).
  returned: always
  type: list
  elements: dict
  contains:
    zone_name:
      description: The zone's name.
      type: str
      sample: us-east-1-bos-1a
    zone_id:
      description: The zone's ID, the same in every account.
      type: str
      sample: use1-bos1-az1
    zone_type:
      description: C(availability-zone), C(local-zone) or C(wavelength-zone).
      type: str
      sample: local-zone
    group_name:
      description: The zone group, the unit of opt-in; the region's name for availability zones.
      type: str
      sample: us-east-1-bos-1
    network_border_group:
      description: The network border group the zone advertises its addresses from.
      type: str
      sample: us-east-1-bos-1
    opt_in_status:
      description: C(opted-in), C(not-opted-in) or C(opt-in-not-required).
      type: str
      sample: opted-in
    parent_zone_name:
      description: For a Local Zone or Wavelength Zone, the availability zone it is anchored to, else null.
      type: str
      sample: us-east-1a
    parent_zone_id:
      description: The ID of RV(zones[].parent_zone_name), else null.
      type: str
      sample: use1-az6
    region_name:
      description: The zone's region.
      type: str
      sample: us-east-1
    state:
      description: The zone's state, C(available) when it can be used.
      type: str
      sample: available
    instance_types:
      description: The instance types the zone offers, sorted; only with O(instance_type_offerings=true).
      returned: when O(instance_type_offerings=true)
      type: list
      elements: str
      sample: [c5.2xlarge, t3.medium, t3.xlarge]
missing_zone_names:
  description: Names from O(zone_names) that are not zones of the region.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import call
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import paginate
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail

# The API's keys and the names this module returns them under.
_ZONE_KEYS = (
    ("ZoneName", "zone_name"),
    ("ZoneId", "zone_id"),
    ("ZoneType", "zone_type"),
    ("GroupName", "group_name"),
    ("NetworkBorderGroup", "network_border_group"),
    ("OptInStatus", "opt_in_status"),
    ("ParentZoneName", "parent_zone_name"),
    ("ParentZoneId", "parent_zone_id"),
    ("RegionName", "region_name"),
    ("State", "state"),
)


def describe_zones(client, zone_names):
    """The API's description of each named zone the region has, opted in to or not."""
    # ZoneNames would fail the whole call on the first unknown name; a filter reports all of them.
    # aws_retry=True: the client's AWSRetry backoff (see run) applies to this call.
    response = call(
        client, "describe_availability_zones", AllAvailabilityZones=True, Filters=[{"Name": "zone-name", "Values": list(zone_names)}], aws_retry=True
    )
    return {zone["ZoneName"]: zone for zone in response.get("AvailabilityZones", [])}


def offered_instance_types(client, zone_names):
    """``{zone_name: sorted instance types}`` from DescribeInstanceTypeOfferings."""
    offered = {name: set() for name in zone_names}
    offerings = paginate(
        client, "describe_instance_type_offerings", "InstanceTypeOfferings",
        LocationType="availability-zone", Filters=[{"Name": "location", "Values": list(zone_names)}],
    )
    for offering in offerings:
        offered.setdefault(offering["Location"], set()).add(offering["InstanceType"])
    return {name: sorted(types) for name, types in offered.items()}


def run(module):
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    zone_names = list(dict.fromkeys(module.params["zone_names"]))
    found = describe_zones(client, zone_names)
    zones = [{name: found[zone_name].get(key) for key, name in _ZONE_KEYS} for zone_name in zone_names if zone_name in found]
    if module.params["instance_type_offerings"] and zones:
        offered = offered_instance_types(client, [zone["zone_name"] for zone in zones])
        for zone in zones:
            zone["instance_types"] = offered.get(zone["zone_name"], [])
    module.exit_json(changed=False, zones=zones, missing_zone_names=[name for name in zone_names if name not in found])


def main():
    argument_spec = dict(
        zone_names=dict(type="list", elements="str", required=True),
        instance_type_offerings=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    def naming_the_zones(error):
        """A message that names the zones asked for, as the error's own does not."""
        return {"msg": "Could not describe the zones %s: %s" % (", ".join(module.params["zone_names"]), error.message)}

    run_or_fail(module, run, failure_report=naming_the_zones)


if __name__ == "__main__":
    main()
