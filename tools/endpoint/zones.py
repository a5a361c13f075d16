# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local Zones: listed, opted in to, and usable for subnets and instances, as on EC2.

* moto lists only a region's availability zones.  The Local Zones in
  ``LOCAL_ZONES`` are added (for ``us-east-1``: ``us-east-1-bos-1a``, zone ID
  ``use1-bos1-az1``, group ``us-east-1-bos-1``, parent ``us-east-1a``, opted
  in; ``us-east-1-nyc-1a``, ``use1-nyc1-az1``, group ``us-east-1-nyc-1``,
  parent ``us-east-1f``, not opted in).  DescribeAvailabilityZones answers
  every zone with ``ZoneType``, ``OptInStatus`` (``opt-in-not-required`` for
  availability zones), ``GroupName`` and ``NetworkBorderGroup`` (the region's
  name for availability zones, the zone group for Local Zones) and, for Local
  Zones, ``ParentZoneName`` / ``ParentZoneId``.  A Local Zone whose group is
  not opted in is listed only with ``AllAvailabilityZones=true``, as on EC2.
  Filters: ``zone-name``, ``zone-id``, ``zone-type``, ``region-name``,
  ``state``, ``group-name``, ``opt-in-status``, ``parent-zone-name``,
  ``parent-zone-id``, ``network-border-group``; another filter name answers
  ``InvalidParameterValue``.  moto's own internal zone list is unchanged, so
  default VPCs still get subnets in availability zones only.
* ModifyAvailabilityZoneGroup (not in moto) sets a zone group's opt-in status
  (``opted-in`` or ``not-opted-in``) for the account and region; an unknown
  group or status answers ``InvalidParameterValue``.  The status lives on the
  region's EC2 backend, so moto's reset restores the defaults above.
* CreateSubnet in an opted-in Local Zone (by name or zone ID) creates the
  subnet there (never a default subnet, ``MapPublicIpOnLaunch`` false); in a
  Local Zone that is not opted in it answers ``InvalidParameterValue`` and names
  the zones subnets can be created in (EC2's wording for an unusable zone; the
  exact text EC2 gives for a zone that is not opted in is not verified).
  Instances launched there, and their volumes, are placed in the Local Zone.
* DescribeInstanceTypeOfferings with ``LocationType`` ``availability-zone``
  (or ``availability-zone-id``) also lists, for each opted-in Local Zone, the
  small set a Local Zone offers: ``t3.medium``, ``t3.xlarge``, ``c5.2xlarge``,
  ``r5.2xlarge``, ``g4dn.2xlarge`` (``LOCAL_ZONE_INSTANCE_TYPES``; no
  ``t2.micro``).  RunInstances into a Local Zone subnet with an instance type
  the zone does not offer answers ``Unsupported`` ("Your requested instance
  type ... is not supported in your requested Availability Zone ..."), with or
  without moto's own instance type validation switched on.  The same holds for
  an instance launched on an existing interface (``NetworkInterfaceId`` at
  device index 0), which is placed in the zone of the interface's subnet
  (moto put it in the region's first zone).

Known differences: only the Local Zones in ``LOCAL_ZONES`` exist, all with the
same instance type offerings; Wavelength Zones and Outposts do not.  A Local
Zone that is not opted in offers no instance types here (EC2 may list them).
Zone names map to zone IDs the same way in every account.

In-process: ``LOCAL_ZONES`` and ``local_zone_spec(region, zone_name=None, zone_id=None)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.exceptions import InvalidAvailabilityZoneError
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
from moto.ec2.models.availability_zones_and_regions import Zone
from moto.ec2.models.instance_types import InstanceTypeOfferingBackend
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.subnets import SubnetBackend
from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

from .patching import original
from .patching import patch


@dataclass(frozen=True)
class LocalZoneSpec:
    """A Local Zone the layer adds to a region (moto lists none)."""

    name: str
    zone_id: str
    group_name: str
    parent_zone_name: str
    opted_in: bool  # the opt-in status of its zone group in a fresh account
    instance_types: tuple


# What a small Local Zone offers: a few current-generation families, no t2 and no m1.
LOCAL_ZONE_INSTANCE_TYPES = ("t3.medium", "t3.xlarge", "c5.2xlarge", "r5.2xlarge", "g4dn.2xlarge")
LOCAL_ZONES = {
    "us-east-1": (
        LocalZoneSpec("us-east-1-bos-1a", "use1-bos1-az1", "us-east-1-bos-1", "us-east-1a", True, LOCAL_ZONE_INSTANCE_TYPES),
        LocalZoneSpec("us-east-1-nyc-1a", "use1-nyc1-az1", "us-east-1-nyc-1", "us-east-1f", False, LOCAL_ZONE_INSTANCE_TYPES),
    ),
}
OPTED_IN = "opted-in"
NOT_OPTED_IN = "not-opted-in"
OPT_IN_NOT_REQUIRED = "opt-in-not-required"

_OPT_IN_ATTR = "fidelity_zone_group_opt_in"
# One moto Zone object per Local Zone, shared like moto's own (subnets and volumes point at it).
_LOCAL_ZONE_OBJECTS: dict = {}
# DescribeAvailabilityZones filters and the response keys they match.
_ZONE_FILTER_KEYS = {
    "zone-name": "ZoneName",
    "zone-id": "ZoneId",
    "zone-type": "ZoneType",
    "region-name": "RegionName",
    "state": "State",
    "group-name": "GroupName",
    "opt-in-status": "OptInStatus",
    "parent-zone-name": "ParentZoneName",
    "parent-zone-id": "ParentZoneId",
    "network-border-group": "NetworkBorderGroup",
}


class UnsupportedInstanceTypeError(EC2ClientError):
    """EC2's answer to RunInstances with an instance type the zone does not offer."""

    def __init__(self, instance_type, zone_name):
        super().__init__(
            "Unsupported",
            f"Your requested instance type ({instance_type}) is not supported in your requested Availability Zone ({zone_name}). "
            "Please retry your request by not specifying an Availability Zone or choosing a zone that offers it.")


class InvalidZoneGroupError(EC2ClientError):
    """ModifyAvailabilityZoneGroup for a group the region does not have."""

    def __init__(self, group_name):
        super().__init__("InvalidParameterValue", f"The zone group '{group_name}' is not valid for this region.")


class InvalidZoneFilterError(EC2ClientError):
    """DescribeAvailabilityZones with a filter name EC2 does not know."""

    def __init__(self, filter_name):
        super().__init__("InvalidParameterValue", f"The filter '{filter_name}' is invalid")


def _local_zone_specs(region):
    return LOCAL_ZONES.get(region, ())


def local_zone_spec(region, zone_name=None, zone_id=None):
    """The LocalZoneSpec of ``region`` named ``zone_name`` (or with ``zone_id``), else None."""
    for spec in _local_zone_specs(region):
        if (zone_name and spec.name == zone_name) or (zone_id and spec.zone_id == zone_id):
            return spec
    return None


def _local_zone_object(region, spec):
    zone = _LOCAL_ZONE_OBJECTS.get(spec.name)
    if zone is None:
        zone = Zone(name=spec.name, region_name=region, zone_id=spec.zone_id, zone_type="local-zone")
        zone = _LOCAL_ZONE_OBJECTS.setdefault(spec.name, zone)
    return zone


def _opt_in_statuses(backend):
    # Kept on the region's EC2 backend, so moto's reset forgets every opt-in.
    defaults = {spec.group_name: OPTED_IN if spec.opted_in else NOT_OPTED_IN for spec in _local_zone_specs(backend.region_name)}
    return vars(backend).setdefault(_OPT_IN_ATTR, defaults)


def _is_opted_in(backend, spec):
    return _opt_in_statuses(backend)[spec.group_name] == OPTED_IN


def _region_zone_description(zone):
    return {"ZoneName": zone.name, "ZoneId": zone.zone_id, "ZoneType": zone.zone_type, "RegionName": zone.region_name,
            "State": zone.state, "Messages": [], "OptInStatus": OPT_IN_NOT_REQUIRED, "GroupName": zone.region_name,
            "NetworkBorderGroup": zone.region_name}


def _local_zone_description(backend, spec):
    parent = next((zone for zone in backend.describe_availability_zones() if zone.name == spec.parent_zone_name), None)
    return {"ZoneName": spec.name, "ZoneId": spec.zone_id, "ZoneType": "local-zone", "RegionName": backend.region_name,
            "State": "available", "Messages": [], "OptInStatus": _opt_in_statuses(backend)[spec.group_name],
            "GroupName": spec.group_name, "NetworkBorderGroup": spec.group_name, "ParentZoneName": spec.parent_zone_name,
            "ParentZoneId": parent.zone_id if parent else None}


def _zone_matches(zone, filters):
    for name, values in filters.items():
        if name not in _ZONE_FILTER_KEYS:
            raise InvalidZoneFilterError(name)
        if zone.get(_ZONE_FILTER_KEYS[name]) not in values:
            return False
    return True


def _describe_zones(backend, filters=None, zone_names=(), zone_ids=(), all_availability_zones=False):
    """DescribeAvailabilityZones as EC2 answers it: the region's zones, then its Local Zones.

    A Local Zone whose group is not opted in is listed only with ``all_availability_zones``.
    """
    zones = [_region_zone_description(zone) for zone in backend.describe_availability_zones()]
    zones += [_local_zone_description(backend, spec) for spec in _local_zone_specs(backend.region_name)
              if all_availability_zones or _is_opted_in(backend, spec)]
    return [zone for zone in zones
            if _zone_matches(zone, filters or {})
            and (not zone_names or zone["ZoneName"] in zone_names)
            and (not zone_ids or zone["ZoneId"] in zone_ids)]


def modify_availability_zone_group(self, group_name, opt_in_status):
    """Opt the account in to (or out of) a Local Zone group of the region."""
    statuses = _opt_in_statuses(self)
    if group_name not in statuses:
        raise InvalidZoneGroupError(group_name)
    if opt_in_status not in (OPTED_IN, NOT_OPTED_IN):
        raise EC2ClientError("InvalidParameterValue", f"Value ({opt_in_status}) for parameter OptInStatus is invalid.")
    statuses[group_name] = opt_in_status


def get_zone_by_name(self, name):
    """RegionsAndZonesBackend.get_zone_by_name that also knows the region's Local Zones (volumes of their instances)."""
    zone = original(RegionsAndZonesBackend, "get_zone_by_name")(self, name)
    spec = None if zone is not None else local_zone_spec(self.region_name, name)
    return _local_zone_object(self.region_name, spec) if spec else zone


def _usable_zone_names(backend):
    names = [zone.name for zone in backend.describe_availability_zones()]
    return names + [spec.name for spec in _local_zone_specs(backend.region_name) if _is_opted_in(backend, spec)]


def create_subnet(  # pylint: disable=too-many-arguments,too-many-positional-arguments  # moto's signature
        self, vpc_id, cidr_block, ipv6_cidr_block=None, availability_zone=None, availability_zone_id=None, ipv6_native=False, tags=None):
    """SubnetBackend.create_subnet that also creates subnets in the region's opted-in Local Zones."""
    moto_create_subnet = original(SubnetBackend, "create_subnet")
    spec = local_zone_spec(self.region_name, availability_zone, availability_zone_id)
    if spec is None:
        return moto_create_subnet(self, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id, ipv6_native=ipv6_native, tags=tags)
    if not _is_opted_in(self, spec):
        raise InvalidAvailabilityZoneError(availability_zone or availability_zone_id, ", ".join(_usable_zone_names(self)))
    # moto only knows the parent zone: create the subnet there, then move it to the Local Zone.
    subnet = moto_create_subnet(self, vpc_id, cidr_block, ipv6_cidr_block, spec.parent_zone_name, None, ipv6_native=ipv6_native, tags=tags)
    self.subnets[spec.parent_zone_name].pop(subnet.id)
    self.subnets[spec.name][subnet.id] = subnet
    subnet._availability_zone = _local_zone_object(self.region_name, spec)  # pylint: disable=protected-access
    # A Local Zone never has a default subnet; EC2 gives new non-default subnets private addresses only.
    subnet.default_for_az = False
    subnet.map_public_ip_on_launch = False
    return subnet


def _local_zone_offerings(backend, location_type):
    offerings = []
    for spec in _local_zone_specs(backend.region_name):
        if not _is_opted_in(backend, spec):
            continue
        location = spec.zone_id if location_type == "availability-zone-id" else spec.name
        offerings += [{"InstanceType": instance_type, "LocationType": location_type, "Location": location} for instance_type in spec.instance_types]
    return offerings


def describe_instance_type_offerings(self, location_type=None, filters=None):
    """InstanceTypeOfferingBackend.describe_instance_type_offerings plus the opted-in Local Zones' offerings."""
    offerings = original(InstanceTypeOfferingBackend, "describe_instance_type_offerings")(self, location_type, filters)
    if location_type in ("availability-zone", "availability-zone-id"):
        offerings = list(offerings) + [offering for offering in _local_zone_offerings(self, location_type)
                                       if self.matches_filters(offering, filters or {}, location_type)]
    return offerings


def _launch_subnet_id(kwargs):
    return kwargs.get("subnet_id") or next((nic.get("SubnetId") for nic in kwargs.get("nics") or () if nic.get("SubnetId")), None)


def _launch_interface_subnet(backend, kwargs):
    """The subnet of an existing interface the instance is launched on (device index 0), else None."""
    for nic in kwargs.get("nics") or ():
        if nic.get("NetworkInterfaceId") and str(nic.get("DeviceIndex", "0")) == "0":
            return backend.get_network_interface(nic["NetworkInterfaceId"]).subnet
    return None


def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    """InstanceBackend.run_instances that refuses, like EC2, an instance type the Local Zone does not offer.

    An instance launched on an existing interface is placed, as on EC2, in the zone of the interface's subnet.
    """
    subnet_id = _launch_subnet_id(kwargs)
    interface_subnet = None if subnet_id else _launch_interface_subnet(self, kwargs)
    zone_name = (self.get_subnet(subnet_id).availability_zone if subnet_id
                 else interface_subnet.availability_zone if interface_subnet else kwargs.get("placement"))
    spec = local_zone_spec(self.region_name, zone_name)
    if spec is not None:
        if kwargs.get("instance_type") not in spec.instance_types:
            raise UnsupportedInstanceTypeError(kwargs.get("instance_type"), spec.name)
        if kwargs.get("placement") == spec.name and (subnet_id or interface_subnet):
            # moto checks Placement against the region's zones only; the subnet already places the instance.
            kwargs["placement"] = None
    reservation = original(InstanceBackend, "run_instances")(self, image_id, count, user_data, security_group_names, **kwargs)
    if interface_subnet is not None:
        # moto places an instance without a subnet, and its volumes, in the region's first zone.
        zone = self.get_zone_by_name(interface_subnet.availability_zone)
        for instance in reservation.instances:
            instance.placement.zone = zone.name
            for device in instance.block_device_mapping.values():
                self.get_volume(device.volume_id).zone = zone
    return reservation


def describe_availability_zones_action(self):
    """EC2 query action DescribeAvailabilityZones, with AllAvailabilityZones and the Local Zones."""
    self.error_on_dryrun()
    zones = _describe_zones(
        self.ec2_backend,
        self._filters_from_querystring(),  # pylint: disable=protected-access
        zone_names=self._get_param("ZoneNames", []),  # pylint: disable=protected-access
        zone_ids=self._get_param("ZoneIds", []),  # pylint: disable=protected-access
        all_availability_zones=self._get_bool_param("AllAvailabilityZones", False),  # pylint: disable=protected-access
    )
    return ActionResult({"AvailabilityZones": zones})


def modify_availability_zone_group_action(self):
    """EC2 query action ModifyAvailabilityZoneGroup."""
    self.error_on_dryrun()
    modify_availability_zone_group(self.ec2_backend, self._get_param("GroupName"), self._get_param("OptInStatus"))  # pylint: disable=protected-access
    return ActionResult({"Return": True})


def install():
    """Patch moto's zone, subnet, instance type offering and instance backends (called once, by behaviours.install())."""
    patch(RegionsAndZonesBackend, "get_zone_by_name", get_zone_by_name)
    patch(SubnetBackend, "create_subnet", create_subnet)
    patch(InstanceTypeOfferingBackend, "describe_instance_type_offerings", describe_instance_type_offerings)
    patch(InstanceBackend, "run_instances", run_instances)
    patch(AvailabilityZonesAndRegions, "describe_availability_zones", describe_availability_zones_action)
    patch(AvailabilityZonesAndRegions, "modify_availability_zone_group", modify_availability_zone_group_action)
