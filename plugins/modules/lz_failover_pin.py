#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_failover_pin
version_added: 0.2.0
short_description: Pin a failover group to Direct Connect or the VPN, release the pin, or report the group
description:
  - Writes, deletes or reads the operator pin of a failover group in the coordination table (DynamoDB) that
    the group's failover monitors share. The monitor holding the lease makes the route tables follow a pin
    while it is in force, and reports it; with no pin it follows its probes again.
  - A pin has a path (C(dx) or C(vpn)), an end (O(until), O(duration_s), or none - until released), and
    says who set it and why. A pin whose end has passed is no longer in force, even before it is released.
  - Setting a pin replaces the pin before; O(state=pinned) with the same path, end, O(who) and O(why) as
    the pin in force changes nothing (a O(duration_s) gives a new end on every run, so it always changes).
  - Every input is checked before the first call, and a bad input fails with one message listing every problem.
  - Returns the group's status - the lease holder, the pin in force and each monitor's latest view - for
    every O(state), read after the change (in check mode, as it would be).
  - The module changes no route table itself. Without a monitor holding the lease, nothing follows the pin;
    M(localzones.failover.lz_route_failover) switches the routes by hand.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  table:
    description:
      - The coordination table's name (the inventory's C(lz_failover_coordination_table)).
    type: str
    required: true
  failover_group:
    description:
      - The failover group, the monitors' C(coordination.failover_group).
    type: str
    required: true
  state:
    description:
      - C(pinned) writes the pin, C(released) deletes it, C(query) only reads the group.
    type: str
    default: query
    choices: [pinned, released, query]
  path:
    description:
      - The path the routes follow while the pin is in force. Required with O(state=pinned).
    type: str
    choices: [dx, vpn]
  until:
    description:
      - When the pin ends - UNIX epoch seconds, or an ISO-8601 time (C(2026-12-04T18:00:00Z); UTC without a zone).
      - Must be in the future. Without O(until) and O(duration_s) the pin stays until released.
    type: str
  duration_s:
    description:
      - The pin ends this many seconds after it is set. Not together with O(until).
    type: float
  who:
    description:
      - Who sets the pin (the monitors log and notify it). Required with O(state=pinned); a module cannot
        know the user who runs the playbook, so the playbooks pass the controller's user.
    type: str
  why:
    description:
      - Why, in a sentence (at most 256 characters). Required with O(state=pinned).
    type: str
notes:
  - Needs C(dynamodb:Query) on the table, and C(dynamodb:PutItem) or C(dynamodb:DeleteItem) to pin or release.
  - Times are the wall clocks of the controller and the monitors; a pin ends within their clock difference.
attributes:
  check_mode:
    support: full
    details: Reports the pin and the status the change would give, without writing.
  diff_mode:
    support: full
    details: Shows the pin item before and after.
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.aws_attributes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover
    description: Switches the route tables by hand, for a failover group without monitors.
"""

EXAMPLES = r"""
- name: Keep production on the VPN during the Direct Connect maintenance window
  localzones.failover.lz_failover_pin:
    table: lz-failover-coordination
    failover_group: lz-failover
    state: pinned
    path: vpn
    until: "2026-12-05T06:00:00Z"
    who: alice
    why: DX maintenance CHG-1234
  register: pinned

- name: Release the pin; the monitors follow their probes again
  localzones.failover.lz_failover_pin:
    table: lz-failover-coordination
    failover_group: lz-failover
    state: released

- name: Who holds the lease, and is there a pin?
  localzones.failover.lz_failover_pin:
    table: lz-failover-coordination
    failover_group: lz-failover
  register: group
"""

RETURN = r"""
status:
  description: The group afterwards (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    lease:
      description: C(holder), C(fencing), C(expires_in_s) (negative once expired) and C(live); null when no monitor ever held it.
      type: dict
      sample: {holder: utility-1, fencing: 4, expires_in_s: 6.2, live: true}
    pin:
      description: The pin in force - C(path), C(until) (null - until released), C(who), C(why), C(set_at), C(remaining_s), C(in_force) - or null.
      type: dict
      sample: {path: vpn, until: 1796450400, who: alice, why: DX maintenance CHG-1234, set_at: 1796421600, remaining_s: 28800, in_force: true}
    monitors:
      description: Each monitor's latest view - C(monitor_id), C(role) (holder or standby), C(dx_state), C(desired_path), C(age_s).
      type: list
      elements: dict
      sample: [{monitor_id: utility-1, role: holder, dx_state: healthy, desired_path: dx, age_s: 0.8}]
pin:
  description: The pin in force afterwards (as in RV(status.pin)), or null.
  returned: always
  type: dict
holder:
  description:
    - The monitor that holds a live lease - its view from RV(status.monitors) and the lease's C(fencing) - or null
      when no monitor holds one (none runs, or the holder stopped renewing).
    - A playbook that changes the route tables by hand checks it first - that monitor would put them back.
  returned: always
  type: dict
  sample: {monitor_id: utility-1, role: holder, dx_state: healthy, desired_path: dx, age_s: 0.8, fencing: 4}
previous_pin:
  description: The pin item before the run, also when it had already ended, or null.
  returned: always
  type: dict
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.aws.pins import release_pin
from ansible_collections.localzones.failover.plugins.module_utils.aws.pins import set_pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import Pin
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import find_record
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import group_status
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import live_holder
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import pin_problems
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import requested_until
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError

STATE_PINNED = "pinned"
STATE_RELEASED = "released"
STEP_PUT = "put"
STEP_DELETE = "delete"


def requested_pin(params, now):
    """The Pin that O(state=pinned) asks for; raises one ValidationError listing every problem."""
    until, problems = requested_until(params["until"], params["duration_s"], now)
    problems = problems + pin_problems(params["path"], until, params["who"], params["why"], now)
    if problems:
        raise ValidationError(problems)
    return Pin(path=params["path"], until=until, who=params["who"].strip(), why=params["why"].strip(), set_at=now)


def same_pin(current, wanted):
    """True when the pin item already says what is asked (its set_at aside)."""
    return current is not None and (current.path, current.until, current.who, current.why) == (wanted.path, wanted.until, wanted.who, wanted.why)


def plan(state, wanted, items, now):
    """``(step, pin after)``: the write the run makes (``put``, ``delete`` or None) and the pin item afterwards.

    ``wanted`` is the requested pin (O(state=pinned)); a pin item that already says
    the same and is in force is left as it is. Releasing deletes any pin item, also
    one that has ended, so the table holds no stale pin.
    """
    current_item = find_record(items, schema.PIN_RECORD)
    current = Pin.from_item(current_item)
    if state == STATE_PINNED:
        if same_pin(current, wanted) and current.in_force(now):
            return None, current
        return STEP_PUT, wanted
    if state == STATE_RELEASED:
        return (STEP_DELETE if current_item is not None else None), None
    return None, current


def items_after(step, wanted, items, failover_group):
    """The group's items as they will be after ``step``: what check mode reports."""
    others = [item for item in items if item is not find_record(items, schema.PIN_RECORD)]
    if step == STEP_PUT:
        return others + [wanted.to_item(failover_group)]
    if step == STEP_DELETE:
        return others
    return items


def run(module):
    params = module.params
    now = time.time()
    # Every input is checked before the first call.
    wanted = requested_pin(params, now) if params["state"] == STATE_PINNED else None
    client = retrying_client(module, "dynamodb")
    table, group = params["table"], params["failover_group"]
    items = read_group(client, table, group)
    current = Pin.from_item(find_record(items, schema.PIN_RECORD))
    step, after = plan(params["state"], wanted, items, now)

    result = {"changed": step is not None, "previous_pin": None if current is None else current.as_dict(now)}
    if module._diff:
        result["diff"] = {"before": pin_view(current), "after": pin_view(after)}
    if step is None or module.check_mode:
        items = items_after(step, wanted, items, group)
    else:
        if step == STEP_PUT:
            set_pin(client, table, group, wanted)
        else:
            release_pin(client, table, group)
        items = read_group(client, table, group)
    # Ages are counted from after the last read, so a view written during it is never younger than zero.
    status = group_status(items, time.time())
    module.exit_json(status=status, pin=status["pin"], holder=live_holder(status), **result)


def pin_view(pin):
    """What diff mode shows of a pin item ({} when there is none)."""
    return {} if pin is None else {"path": pin.path, "until": pin.until, "who": pin.who, "why": pin.why}


def main():
    argument_spec = dict(
        table=dict(type="str", required=True),
        failover_group=dict(type="str", required=True),
        state=dict(type="str", default="query", choices=["pinned", "released", "query"]),
        path=dict(type="str", choices=["dx", "vpn"]),
        until=dict(type="str"),
        duration_s=dict(type="float"),
        who=dict(type="str"),
        why=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", STATE_PINNED, ["path", "who", "why"])],
                              mutually_exclusive=[("until", "duration_s")])
    run_or_fail(module, run)


if __name__ == "__main__":
    main()
