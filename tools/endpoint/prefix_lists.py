# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer-managed prefix lists: ModifyManagedPrefixList and the maximum of entries as EC2 has them.

* ``CurrentVersion``: EC2 refuses a modify whose version is not the list's
  current one (the optimistic check lz_prefix_list relies on); moto took the
  stale version's entries as the base of the edit and went on.  The endpoint
  answers ``InvalidParameterValue``, the code seen from EC2 for a wrong
  version; the message is the endpoint's own.
* ``MaxEntries``: moto stored it and ignored it.  The endpoint refuses a list
  (CreateManagedPrefixList) or a modify that would hold more entries than its
  maximum, a new maximum below the entries held, and, as EC2 does, a modify of
  the entries and the maximum in one request (``InvalidParameterCombination``);
  a modify with ``MaxEntries`` alone changes the maximum (moto dropped it).
* ``PrefixListName``: a modify without one keeps the name; moto set it to None.
* ``GetManagedPrefixListEntries`` of a list that does not exist answers
  ``InvalidPrefixListID.NotFound``; moto answered no entries.

Known differences: changes are complete at once (EC2 passes through
``modify-in-progress`` for an undocumented time), a list's maximum is not
checked against the route quota of the tables that reference it, and there is
no quota of lists per Region.
"""

from __future__ import annotations

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.managed_prefixes import ManagedPrefixListBackend
from moto.ec2.responses.vpcs import VPCs

from .patching import original
from .patching import patch


class PrefixListError(EC2ClientError):
    """An EC2 refusal of a prefix-list request, with EC2's error code."""


def _prefix_list(response, prefix_list_id):
    found = response.ec2_backend.managed_prefix_lists.get(prefix_list_id)
    if found is None or found.state == "delete-complete":
        raise PrefixListError("InvalidPrefixListID.NotFound", f"The prefix list ID '{prefix_list_id}' does not exist")
    return found


def _held_entries(prefix_list):
    """The CIDRs of the list's latest version."""
    return [entry["Cidr"] for entry in prefix_list.entries.get(prefix_list.version, [])] if prefix_list.entries else []


def _check_room(prefix_list_id, count, max_entries):
    if max_entries is not None and count > int(max_entries):
        raise PrefixListError("InvalidParameterValue",
                              f"The prefix list {prefix_list_id} would hold {count} entries, more than its maximum of {max_entries}")


def create_managed_prefix_list(self):
    entries = self._get_param("Entries", [])
    max_entries = self._get_param("MaxEntries")
    _check_room(self._get_param("PrefixListName"), len(entries), max_entries)
    return original(VPCs, "create_managed_prefix_list")(self)


def modify_managed_prefix_list(self):
    prefix_list = _prefix_list(self, self._get_param("PrefixListId"))
    add = [entry["Cidr"] for entry in self._get_param("AddEntries", [])]
    remove = [entry["Cidr"] for entry in self._get_param("RemoveEntries", [])]
    max_entries = self._get_param("MaxEntries")
    current_version = self._get_param("CurrentVersion")
    if max_entries is not None and (add or remove):
        raise PrefixListError("InvalidParameterCombination",
                              "You cannot modify the entries and the maximum entries for the prefix list in the same request.")
    if current_version is not None and int(current_version) != prefix_list.version:
        raise PrefixListError("InvalidParameterValue",
                              f"The version {current_version} of prefix list {prefix_list.id} is not its current version {prefix_list.version}")
    held = _held_entries(prefix_list)
    after = [cidr for cidr in held if cidr not in remove] + [cidr for cidr in add if cidr not in held]
    _check_room(prefix_list.id, len(after), prefix_list.max_entries if max_entries is None else max_entries)
    if max_entries is not None:
        prefix_list.max_entries = int(max_entries)
    return original(VPCs, "modify_managed_prefix_list")(self)


def modify_keeping_the_name(self, add_entry, remove_entry, prefix_list_id=None, current_version=None, prefix_list_name=None):
    """moto's backend modify, with the list's own name when the request gave none."""
    if prefix_list_name is None:
        prefix_list_name = self.managed_prefix_lists[prefix_list_id].prefix_list_name
    return original(ManagedPrefixListBackend, "modify_managed_prefix_list")(
        self, add_entry, remove_entry, prefix_list_id=prefix_list_id, current_version=current_version, prefix_list_name=prefix_list_name)


def get_managed_prefix_list_entries(self):
    _prefix_list(self, self._get_param("PrefixListId"))
    return original(VPCs, "get_managed_prefix_list_entries")(self)


def install():
    """Replace moto's prefix-list responses (called once, by behaviours.install())."""
    patch(VPCs, "create_managed_prefix_list", create_managed_prefix_list)
    patch(VPCs, "modify_managed_prefix_list", modify_managed_prefix_list)
    patch(VPCs, "get_managed_prefix_list_entries", get_managed_prefix_list_entries)
    patch(ManagedPrefixListBackend, "modify_managed_prefix_list", modify_keeping_the_name)
