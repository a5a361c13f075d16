# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer-managed prefix lists: the reads the route failover and lz_prefix_list share.

Both go through ``calls`` like every other EC2 call of the collection.
"""

from __future__ import annotations

from .calls import call
from .calls import paginate


def read_prefix_list(client, prefix_list_id):
    """The DescribeManagedPrefixLists entry of ``prefix_list_id``, or None when it does not exist.

    A filter instead of PrefixListIds, so a missing list is an empty answer rather
    than an error to tell apart from the others.
    """
    response = call(client, "describe_managed_prefix_lists", Filters=[{"Name": "prefix-list-id", "Values": [prefix_list_id]}])
    found = [item for item in response.get("PrefixLists", []) if item.get("PrefixListId") == prefix_list_id]
    return found[0] if found else None


def read_prefix_list_entries(client, prefix_list_id):
    """The CIDRs the prefix list holds now, in EC2's order (every page of GetManagedPrefixListEntries)."""
    entries = paginate(client, "get_managed_prefix_list_entries", "Entries", PrefixListId=prefix_list_id)
    return tuple(entry["Cidr"] for entry in entries)
