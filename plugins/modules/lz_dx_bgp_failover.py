#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_dx_bgp_failover
version_added: 0.1.0
short_description: Take Direct Connect down for a bounded time with the Direct Connect BGP failover test
description:
  - Starts or stops the AWS Direct Connect failover test of a virtual interface
    (C(StartBgpFailoverTest), C(StopBgpFailoverTest)). While the test runs, AWS holds the
    interface's BGP sessions down, so traffic to the Local Zone has to take the VPN path; a
    failover drill uses this as its fault.
  - Idempotent. With O(state=started), a test already in progress on the interface is left
    running and returned (a warning names how it differs from the requested one). With
    O(state=stopped) and no test in progress, nothing is called.
  - Every input is checked before the first API call, the interface is read first, and BGP peers
    it does not have are refused, all as one error.
  - Optionally waits until the BGP peers report C(down) (started) or C(up) (stopped) in
    C(DescribeVirtualInterfaces), and returns when that was first seen.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  virtual_interface_id:
    description:
      - The Direct Connect virtual interface to test, for example C(dxvif-ffabc123).
    type: str
    required: true
  state:
    description:
      - V(started) starts a failover test unless one is in progress on the interface.
      - V(stopped) stops the test in progress, so AWS brings the BGP sessions back up.
    type: str
    required: true
    choices: [started, stopped]
  bgp_peers:
    description:
      - The BGP peers (C(dxpeer-...)) to hold down. Left out or empty, every BGP peer of the
        interface is held down, for example both the IPv4 and the IPv6 session.
      - Only used with O(state=started).
    type: list
    elements: str
  test_duration_minutes:
    description:
      - How long AWS holds the BGP sessions down unless the test is stopped first, in whole minutes
        from 1 to 4320.
      - The default is deliberately short. A drill normally stops the test itself, but when the
        play, the controller or its network dies half-way, nothing does, and the test then runs
        until this duration is over. The API's own default, 180 minutes, would leave production
        on the VPN path for three hours after such a failure.
      - Only used with O(state=started); checked before any API call.
    type: int
    default: 5
  wait_for_bgp:
    description:
      - With O(state=started), wait until every BGP peer the test holds down reports C(down);
        with O(state=stopped), until the peers of the stopped test (every peer of the interface
        when no test was in progress) report C(up) again.
      - A peer that is down for another reason makes a wait for C(up) time out.
      - Check mode never waits.
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds O(wait_for_bgp) waits before the module fails. A test started before
        the failure keeps running; the failure says so and returns it.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    details: Reads the interface and its test history, and returns the test it would start or stop without calling either.
  diff_mode:
    support: none
    details: The result describes the change; there is no diff.
notes:
  - Needs the IAM actions C(directconnect:DescribeVirtualInterfaces),
    C(directconnect:ListVirtualInterfaceTestHistory), C(directconnect:StartBgpFailoverTest) and
    C(directconnect:StopBgpFailoverTest) on the virtual interface.
  - AWS advises against running the test during a Direct Connect maintenance window, when the BGP
    session may come back before the test ends.
  - RV(requested_at) is the controller's clock just before the call that started or stopped the
    test; AWS acts on it some seconds later. RV(bgp_status_changed_at) is the controller's clock
    when the first answer showing the new BGP status arrived, at most one poll (1 s) late.
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.aws_attributes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover_info
  - name: Direct Connect failover test
    description: How the test works and the statuses of its history.
    link: https://docs.aws.amazon.com/directconnect/latest/UserGuide/resiliency_failover.html
"""

EXAMPLES = r"""
- name: Take Direct Connect down for at most 10 minutes, and note when BGP went down
  localzones.failover.lz_dx_bgp_failover:
    region: us-east-1
    virtual_interface_id: dxvif-ffabc123
    state: started
    test_duration_minutes: 10
    wait_for_bgp: true
    wait_timeout: 180
  register: dx_down

- name: Check that the route tables moved to the VPN path
  localzones.failover.lz_route_failover_info:
    region: us-east-1
    route_table_ids: [rtb-0123456789abcdef0]
    destination_cidrs: [192.168.0.0/16]
    vpn_eni_id: eni-0123456789abcdef0
  register: paths
  until: paths.route_tables | map(attribute='active_path') | unique == ['vpn']
  retries: 30
  delay: 2

- name: Bring Direct Connect back
  localzones.failover.lz_dx_bgp_failover:
    region: us-east-1
    virtual_interface_id: dxvif-ffabc123
    state: stopped
    wait_for_bgp: true

- name: Hold down only the IPv6 session
  localzones.failover.lz_dx_bgp_failover:
    region: us-east-1
    virtual_interface_id: dxvif-ffabc123
    state: started
    bgp_peers: [dxpeer-ffdef456]
"""

RETURN = r"""
change:
  description:
    - V(start) or V(stop) when the module started or stopped a test (or, in check mode, would),
      V(none) when the interface already was in the requested state.
  returned: always
  type: str
  sample: start
test:
  description:
    - The failover test (C(virtualInterfaceTest) of the API, keys in snake case) that was started,
      was already in progress, or was stopped.
    - With O(state=stopped) and no test in progress, the interface's most recent test, or null when
      it has never been tested.
    - In check mode, when a test would be started, only what the call would ask for
      (RV(test.virtual_interface_id), RV(test.bgp_peers), RV(test.test_duration_in_minutes)).
  returned: always
  type: dict
  contains:
    test_id:
      description: The ID of the test.
      type: str
      sample: 3b1c9f2e-5e61-4a36-9d2b-0c5f6f7a8b9c
    virtual_interface_id:
      description: The tested virtual interface.
      type: str
      sample: dxvif-ffabc123
    bgp_peers:
      description: The BGP peers the test holds down; empty means every peer of the interface.
      type: list
      elements: str
      sample: [dxpeer-ffdef456]
    status:
      description: C(in-progress), C(completed) (ran its full duration), C(cancelled) (stopped before) or C(failed).
      type: str
      sample: in-progress
    owner_account:
      description: The account that owns the virtual interface.
      type: str
      sample: "123456789012"
    test_duration_in_minutes:
      description: The duration the test was started with.
      type: int
      sample: 5
    start_time:
      description: When the interface went into the down state, ISO 8601 in UTC.
      type: str
      sample: "2025-06-03T09:15:02+00:00"
    end_time:
      description: When the interface left (or, while in progress, is due to leave) the down state, ISO 8601 in UTC.
      type: str
      sample: "2025-06-03T09:20:02+00:00"
bgp_peers:
  description:
    - The BGP peers of the interface as C(DescribeVirtualInterfaces) reports them after the change
      (after the wait with O(wait_for_bgp)); the authentication key is never returned.
  returned: always
  type: list
  elements: dict
  contains:
    bgp_peer_id:
      description: The peer's ID.
      type: str
      sample: dxpeer-ffdef456
    bgp_status:
      description: C(up), C(down) or C(unknown).
      type: str
      sample: down
    bgp_peer_state:
      description: The peer's life-cycle state, C(available) when it can be established.
      type: str
      sample: available
    address_family:
      description: C(ipv4) or C(ipv6).
      type: str
      sample: ipv4
    asn:
      description: The customer side's BGP ASN.
      type: int
      sample: 65000
    amazon_address:
      description: The Amazon side's peering address.
      type: str
      sample: 169.254.255.1/30
    customer_address:
      description: The customer side's peering address.
      type: str
      sample: 169.254.255.2/30
virtual_interface_state:
  description: The interface's state after the change; C(testing) while a failover test runs.
  returned: always
  type: str
  sample: testing
requested_at:
  description:
    - The controller's clock (seconds since the epoch) just before the call that started or stopped
      the test; a drill uses it as the moment of the fault or of its repair.
  returned: when a test was started or stopped (not in check mode)
  type: float
  sample: 1748942102.318
bgp_status_changed_at:
  description:
    - The controller's clock (seconds since the epoch) when the first answer arrived that showed
      every awaited BGP peer in the wanted status.
  returned: when O(wait_for_bgp=true), not in check mode
  type: float
  sample: 1748942131.902
"""

import functools
import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws import directconnect as dx
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError


def snake(value):
    """An API dict with the keys this collection returns (snake case), or None."""
    return None if value is None else camel_dict_to_snake_dict(value)


def read_interface(client, virtual_interface_id, region):
    """The interface as DescribeVirtualInterfaces lists it; ValidationError when it is not there."""
    interface = dx.describe_virtual_interface(client, virtual_interface_id)
    if interface is None:
        raise ValidationError("virtual_interface_id: %s not found in %s" % (virtual_interface_id, region or "this region"))
    return interface


def refuse_unknown_peers(interface, peer_ids):
    unknown = dx.unknown_peer_ids(interface, peer_ids)
    if unknown:
        raise ValidationError(
            "bgp_peers: %s %s no BGP peer of %s (its peers: %s)"
            % (", ".join(unknown), "is" if len(unknown) == 1 else "are", interface["virtualInterfaceId"], ", ".join(dx.peer_ids_of(interface)) or "none"))


def ensure_started(module, client, interface, running, peer_ids, result):
    """Start a test unless one runs; return the test (None in check mode when one would start)."""
    params = module.params
    if running is not None:
        for difference in dx.request_differences(running, peer_ids, params["test_duration_minutes"]):
            module.warn("a failover test is already in progress on %s and was left as it is: %s" % (interface["virtualInterfaceId"], difference))
        result.update(change=dx.CHANGE_NONE, test=snake(dx.summarize_test(running)))
        return running
    result.update(changed=True, change=dx.CHANGE_START)
    if module.check_mode:
        result["test"] = snake(dx.summarize_planned_test(interface["virtualInterfaceId"], peer_ids, params["test_duration_minutes"]))
        return None
    result["requested_at"] = time.time()
    test, warning = dx.start_or_confirm(client, interface["virtualInterfaceId"], peer_ids, params["test_duration_minutes"])
    if warning:
        module.warn(warning)
    result["test"] = snake(dx.summarize_test(test))
    return test


def ensure_stopped(module, client, interface, running, history, result):
    """Stop the running test, if any; return the test to report (the latest one when none runs)."""
    if running is None:
        latest = dx.latest_test(history, interface["virtualInterfaceId"])
        result.update(change=dx.CHANGE_NONE, test=snake(dx.summarize_test(latest)))
        return None
    result.update(changed=True, change=dx.CHANGE_STOP, test=snake(dx.summarize_test(running)))
    if module.check_mode:
        return running
    result["requested_at"] = time.time()
    test, warning = dx.stop_or_confirm(client, interface["virtualInterfaceId"])
    if warning:
        module.warn(warning)
    result["test"] = snake(dx.summarize_test(test))
    return test


def wait_for_peers(module, client, interface, test, result):
    """Wait until the peers the test acts on show the status the requested state leads to."""
    virtual_interface_id = interface["virtualInterfaceId"]
    peer_ids = dx.held_down_peer_ids(test, interface)

    def read_peers():
        current = dx.describe_virtual_interface(client, virtual_interface_id) or {}
        return current.get("bgpPeers", [])

    wanted = dx.WANTED_BGP_STATUS[module.params["state"]]
    _peers, seen_at = dx.wait_for_bgp_status(read_peers, peer_ids, wanted, module.params["wait_timeout"], virtual_interface_id)
    result["bgp_status_changed_at"] = seen_at


def report_interface(client, interface, result, region):
    """Put the interface's current BGP peers and state in the result."""
    current = read_interface(client, interface["virtualInterfaceId"], region)
    result["bgp_peers"] = [snake(peer) for peer in dx.summarize_peers(current.get("bgpPeers", []))]
    result["virtual_interface_state"] = current.get("virtualInterfaceState")


def run(module, result):
    params = module.params
    peer_ids = dx.validate_test_inputs(
        params["virtual_interface_id"], params["state"], params["bgp_peers"], params["test_duration_minutes"],
        params["wait_timeout"] if params["wait_for_bgp"] else None)
    client = retrying_client(module, "directconnect")
    interface = read_interface(client, params["virtual_interface_id"], module.region)
    if params["state"] == dx.STATE_STARTED:
        refuse_unknown_peers(interface, peer_ids)
    history = dx.list_tests(client, params["virtual_interface_id"])
    running = dx.in_progress_test(history, params["virtual_interface_id"])
    if params["state"] == dx.STATE_STARTED:
        test = ensure_started(module, client, interface, running, peer_ids, result)
    else:
        test = ensure_stopped(module, client, interface, running, history, result)
    if params["wait_for_bgp"] and not module.check_mode:
        wait_for_peers(module, client, interface, test, result)
    report_interface(client, interface, result, module.region)
    module.exit_json(**result)


def failure_message(message, result):
    """The error, plus a reminder when the run had already started a test that keeps Direct Connect down."""
    if result.get("change") == dx.CHANGE_START and result.get("requested_at") is not None and result.get("test"):
        test = result["test"]
        return "%s. The failover test %s on %s keeps running until it is stopped or its %s minutes are over" % (
            message, test.get("test_id"), test.get("virtual_interface_id"), test.get("test_duration_in_minutes"))
    return message


def main():
    argument_spec = dict(
        virtual_interface_id=dict(type="str", required=True),
        state=dict(type="str", required=True, choices=[dx.STATE_STARTED, dx.STATE_STOPPED]),
        bgp_peers=dict(type="list", elements="str"),
        test_duration_minutes=dict(type="int", default=dx.DRILL_DEFAULT_TEST_DURATION_MINUTES),
        wait_for_bgp=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    # Filled in as the run goes, so a failure after a test was started still reports it.
    result = dict(changed=False, change=dx.CHANGE_NONE, test=None, bgp_peers=[])

    def with_what_was_done(error):
        """The result so far, and a message that names a test the run had already started."""
        return dict(result, msg=failure_message(error.message, result))

    run_or_fail(module, functools.partial(run, result=result), failure_report=with_what_was_done)


if __name__ == "__main__":
    main()
