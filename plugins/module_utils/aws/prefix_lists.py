# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer-managed prefix lists: the on-premises CIDRs of the ``prefix_list`` route strategy.

Reads first (the route logic and the provisioning module both need them), then
the provisioning side: the inputs checked offline, the change planned from what
EC2 holds, and the plan executed, each mutation waiting until EC2 has settled
the list. Every call goes through ``calls``; the caller builds the client.
"""

from __future__ import annotations

import ipaddress
import time

from ..errors import FailoverError
from ..errors import ValidationError
from ..tags import ROLE_KEY
from ..tags import ROLE_ON_PREM_DESTINATIONS
from ..validation import cidr_problem
from ..validation import normalize_cidr
from ..validation import unique
from .calls import call
from .calls import paginate


def read_prefix_list(client, prefix_list_id):
    """The DescribeManagedPrefixLists entry of ``prefix_list_id``, or None when it does not exist.

    A filter instead of PrefixListIds, so a missing list is an empty answer, not an error.
    """
    found = paginate(client, "describe_managed_prefix_lists", "PrefixLists", Filters=[{"Name": "prefix-list-id", "Values": [prefix_list_id]}])
    return found[0] if found else None


def read_prefix_list_entries(client, prefix_list_id):
    """The CIDRs the prefix list holds now, in EC2's order, as a tuple of strings."""
    entries = paginate(client, "get_managed_prefix_list_entries", "Entries", PrefixListId=prefix_list_id)
    return tuple(entry["Cidr"] for entry in entries)


# --------------------------------------------------------------------------- provisioning

# ModifyManagedPrefixList takes at most this many entries to add (and to remove) per call.
MAX_ENTRIES_PER_MODIFY = 100
# EC2's prefix-list states that mean a change is still being applied.
_IN_PROGRESS_STATES = ("create-in-progress", "modify-in-progress", "restore-in-progress", "delete-in-progress")
_FAILED_STATES = ("create-failed", "modify-failed", "restore-failed", "delete-failed")
_GONE_STATES = ("delete-complete", "delete-in-progress")
_ADDRESS_FAMILIES = {4: "IPv4", 6: "IPv6"}

STEP_CREATE = "create"
STEP_RESIZE = "resize"
STEP_MODIFY_ENTRIES = "modify-entries"
STEP_TAG = "tag"
STEP_DELETE = "delete"


def validate_prefix_list_inputs(name, entries, max_entries=None):
    """Check the settings of the prefix list offline: ``(entries, address family, max entries)``.

    Raises one ValidationError listing every problem. ``entries`` come back in
    canonical form without repeats; ``max_entries`` defaults to their number.
    """
    problems = []
    if not name or not name.strip():
        problems.append("name must not be empty")
    elif name.lower().startswith("com.amazonaws"):
        problems.append("name %r: names starting with com.amazonaws are reserved for AWS-managed prefix lists" % name)
    if not entries:
        problems.append("entries must list at least one CIDR block (the address family is taken from them)")
    bad = [problem for problem in (cidr_problem(cidr) for cidr in entries or []) if problem]
    problems.extend("entries: " + problem for problem in bad)
    canonical = unique(normalize_cidr(cidr) for cidr in entries or []) if not bad else []
    families = sorted({ipaddress.ip_network(cidr).version for cidr in canonical})
    if len(families) > 1:
        problems.append(
            "entries mix IPv4 and IPv6 CIDR blocks; a prefix list holds one address family, so give one list per family"
        )
    if max_entries is not None and max_entries < max(len(canonical), 1):
        problems.append("max_entries is %d, fewer than the %d entries it must hold" % (max_entries, len(canonical)))
    if problems:
        raise ValidationError(problems)
    return canonical, _ADDRESS_FAMILIES[families[0]], max_entries or len(canonical)


def owned_tags():
    """The tag that marks a prefix list as this project's holder of on-premises destinations."""
    return {ROLE_KEY: ROLE_ON_PREM_DESTINATIONS}


def tags_of(prefix_list):
    return {tag["Key"]: tag["Value"] for tag in prefix_list.get("Tags", [])}


def is_owned(prefix_list):
    return tags_of(prefix_list).get(ROLE_KEY) == ROLE_ON_PREM_DESTINATIONS


def find_prefix_lists_by_name(client, name):
    """``(owned, foreign)``: the account's live prefix lists named ``name``, with and without this project's tag."""
    found = paginate(client, "describe_managed_prefix_lists", "PrefixLists", Filters=[{"Name": "prefix-list-name", "Values": [name]}])
    live = [item for item in found if item.get("State") not in _GONE_STATES and item.get("PrefixListName") == name]
    return [item for item in live if is_owned(item)], [item for item in live if not is_owned(item)]


def find_owned_prefix_list(client, name):
    """The prefix list of this project named ``name`` (None when there is none).

    Raises ValidationError when the name is taken by a list this project did not
    create (it is never touched) or is held by more than one of its lists.
    """
    owned, foreign = find_prefix_lists_by_name(client, name)
    if foreign and not owned:
        raise ValidationError(
            "prefix list %r (%s) exists but does not carry the tag %s=%s, so this project did not create it and will not "
            "change it; choose another name, or tag it if it really is this failover's"
            % (name, ", ".join(item["PrefixListId"] for item in foreign), ROLE_KEY, ROLE_ON_PREM_DESTINATIONS)
        )
    if len(owned) > 1:
        raise ValidationError(
            "%d prefix lists named %r carry the tag %s=%s (%s); delete the extra ones by hand, then run again"
            % (len(owned), name, ROLE_KEY, ROLE_ON_PREM_DESTINATIONS, ", ".join(item["PrefixListId"] for item in owned))
        )
    return owned[0] if owned else None


def plan_prefix_list(current, current_entries, name, entries, address_family, max_entries, tags):
    """The steps that make EC2's prefix list (``current``, None when absent) hold exactly ``entries``.

    EC2 refuses to change the maximum and the entries in one request, and a list
    may never hold more entries than its maximum: it grows before entries are
    added, and shrinks after they are removed.
    """
    wanted_tags = dict(tags, **owned_tags())
    if current is None:
        return [{"step": STEP_CREATE, "name": name, "entries": list(entries), "address_family": address_family,
                 "max_entries": max_entries, "tags": wanted_tags}]
    if current.get("AddressFamily") != address_family:
        raise ValidationError(
            "prefix list %s holds %s entries, the entries given are %s; EC2 cannot change a list's address family, "
            "so delete it (state=absent) or choose another name" % (current["PrefixListId"], current.get("AddressFamily"), address_family)
        )
    steps = []
    add = [cidr for cidr in entries if cidr not in current_entries]
    remove = [cidr for cidr in current_entries if cidr not in entries]
    current_max = current.get("MaxEntries")
    if current_max is not None and max_entries > current_max:
        steps.append({"step": STEP_RESIZE, "max_entries": max_entries, "previous_max_entries": current_max})
    for start in range(0, max(len(add), len(remove)), MAX_ENTRIES_PER_MODIFY):
        steps.append({"step": STEP_MODIFY_ENTRIES, "add": add[start:start + MAX_ENTRIES_PER_MODIFY],
                      "remove": remove[start:start + MAX_ENTRIES_PER_MODIFY]})
    if current_max is not None and max_entries < current_max:
        steps.append({"step": STEP_RESIZE, "max_entries": max_entries, "previous_max_entries": current_max})
    missing_tags = {key: value for key, value in wanted_tags.items() if tags_of(current).get(key) != value}
    if missing_tags:
        steps.append({"step": STEP_TAG, "tags": missing_tags})
    return steps


def create_prefix_list(client, name, entries, address_family, max_entries, tags):
    """CreateManagedPrefixList with the tags in the same call, so the list is never untagged: its entry."""
    response = call(
        client, "create_managed_prefix_list",
        PrefixListName=name,
        Entries=[{"Cidr": cidr} for cidr in entries],
        MaxEntries=max_entries,
        AddressFamily=address_family,
        TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())]}],
    )
    return response["PrefixList"]


def modify_prefix_list(client, prefix_list, **changes):
    """One ModifyManagedPrefixList of ``prefix_list`` (its current entry): its entry afterwards.

    CurrentVersion is always sent, so EC2 refuses the change when someone else
    changed the list since it was read; the name is sent too, as it is unchanged.
    """
    response = call(
        client, "modify_managed_prefix_list",
        PrefixListId=prefix_list["PrefixListId"],
        CurrentVersion=prefix_list["Version"],
        PrefixListName=prefix_list["PrefixListName"],
        **changes
    )
    return response["PrefixList"]


def wait_until_settled(client, prefix_list_id, timeout_s, poll_s=2.0, clock=time.monotonic, sleep=time.sleep):
    """Poll DescribeManagedPrefixLists until the list's change is complete: its entry.

    A failed change raises FailoverError with EC2's state message; so does a list
    still in progress after ``timeout_s`` (EC2 documents no upper bound).
    """
    deadline = clock() + timeout_s
    while True:
        prefix_list = read_prefix_list(client, prefix_list_id)
        state = prefix_list.get("State") if prefix_list else "delete-complete"
        if state in _FAILED_STATES:
            raise FailoverError("prefix list %s: %s: %s" % (prefix_list_id, state, prefix_list.get("StateMessage") or "EC2 gave no reason"),
                                prefix_list_id=prefix_list_id, state=state)
        if state not in _IN_PROGRESS_STATES:
            return prefix_list
        if clock() >= deadline:
            raise FailoverError("prefix list %s is still %s after %s s" % (prefix_list_id, state, timeout_s),
                                prefix_list_id=prefix_list_id, state=state)
        sleep(poll_s)


def entry_changes(add, remove):
    """ModifyManagedPrefixList's AddEntries and RemoveEntries, each only when it has entries."""
    changes = {}
    if add:
        changes["AddEntries"] = [{"Cidr": cidr} for cidr in add]
    if remove:
        changes["RemoveEntries"] = [{"Cidr": cidr} for cidr in remove]
    return changes


def delete_prefix_list(client, prefix_list_id):
    call(client, "delete_managed_prefix_list", PrefixListId=prefix_list_id)


def execute_prefix_list_plan(client, current, steps, timeout_s):
    """Run ``steps`` (from ``plan_prefix_list``) in order, each waiting for EC2 to settle: the list's final entry.

    Each modify is made against the version the previous step left, so the
    list's optimistic check stays on for every call.
    """
    prefix_list = current
    for step in steps:
        kind = step["step"]
        if kind == STEP_CREATE:
            prefix_list = create_prefix_list(client, step["name"], step["entries"], step["address_family"], step["max_entries"], step["tags"])
        elif kind == STEP_RESIZE:
            prefix_list = modify_prefix_list(client, prefix_list, MaxEntries=step["max_entries"])
        elif kind == STEP_MODIFY_ENTRIES:
            prefix_list = modify_prefix_list(client, prefix_list, **entry_changes(step["add"], step["remove"]))
        elif kind == STEP_TAG:
            call(client, "create_tags", Resources=[prefix_list["PrefixListId"]],
                 Tags=[{"Key": key, "Value": value} for key, value in sorted(step["tags"].items())])
            continue
        elif kind == STEP_DELETE:
            delete_prefix_list(client, prefix_list["PrefixListId"])
            return None
        prefix_list = wait_until_settled(client, prefix_list["PrefixListId"], timeout_s)
    return prefix_list
