#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: icmp_probe
short_description: Measure reachability of on-premises hosts with ICMP echo and judge it by quorum
version_added: 0.1.0
description:
  - Sends O(count) ICMP echo requests to every target in parallel from the managed host and
    reports, per target, how many were answered, the round-trip times and the jitter.
  - A target is healthy when it answered at least once, its loss is at most O(max_loss_pct)
    and, when O(max_rtt_ms) is set, its average round-trip time is at most O(max_rtt_ms).
    The result RV(healthy) is true when at least O(min_healthy_targets) targets are healthy.
  - A target that cannot be reached (no route, ICMP destination unreachable, no answer) is
    reported as 100% loss; it does not make the module fail. Use RV(healthy) in a
    C(failed_when), C(until) or M(ansible.builtin.assert) to act on the verdict.
  - The module fails only when probing is impossible, for example when a target is not a
    valid address, a name does not resolve, the source address is not on this host, or the
    process may not open ICMP sockets.
  - Names are resolved once, on the managed host, before probing.
  - This module only reads; it never reports a change and probes in check mode too.
requirements:
  - icmplib
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  targets:
    description:
      - IP addresses (IPv4 or IPv6) or host names to probe.
      - Each target must be a distinct host; two entries that resolve to the same address are refused.
    type: list
    elements: str
    required: true
  count:
    description:
      - Number of echo requests sent to each target.
    type: int
    default: 3
  interval:
    description:
      - Seconds between two consecutive echo requests to the same target.
      - Echoes overlap, so the module takes about O(interval) * (O(count) - 1) + O(timeout) seconds when a target does not answer.
    type: float
    default: 0.2
  timeout:
    description:
      - Seconds to wait for the reply to each echo request before counting it as lost.
    type: float
    default: 1.0
  source:
    description:
      - IP address of the managed host to send from, for example the address of the interface
        that faces Direct Connect.
      - Must be of the same address family as every target; names in O(targets) are then
        resolved in that family only.
      - By default the kernel picks the source address from the route to each target.
    type: str
  privileged:
    description:
      - When true, use raw ICMP sockets, which need root (C(become)) or the C(CAP_NET_RAW) capability.
      - When false, use unprivileged ICMP datagram (ping) sockets, which Linux allows only to
        groups within the C(net.ipv4.ping_group_range) sysctl. ICMP error replies are not seen
        this way, so an unreachable target is detected by O(timeout).
    type: bool
    default: true
  min_healthy_targets:
    description:
      - How many targets must be healthy for RV(healthy) to be true (the quorum).
      - Between 1 and the number of O(targets).
    type: int
    default: 1
  max_loss_pct:
    description:
      - Highest share of lost echo requests, in percent (0 to 100), with which a target still counts as healthy.
      - The default tolerates a single lost echo out of the default three, so that one dropped
        packet (ICMP rate limiting, neighbour resolution) does not mark a path down; set 0 to require every reply.
    type: float
    default: 50.0
  max_rtt_ms:
    description:
      - Highest average round-trip time, in milliseconds, with which a target still counts as healthy.
      - Not set by default, so latency does not affect health.
    type: float
attributes:
  check_mode:
    support: full
    details: The module only sends ICMP echo requests and reads the replies, so it probes in check mode as well.
  diff_mode:
    support: none
extends_documentation_fragment:
  - localzones.failover.attributes
notes:
  - Statistics count every echo that was attempted as sent, including echoes the kernel refused to send
    because there is no route, so an unroutable target shows 100% loss.
  - Jitter is the mean absolute difference between the round-trip times of consecutive replies.
"""

EXAMPLES = r"""
- name: Check that the on-premises routers answer over Direct Connect
  localzones.failover.icmp_probe:
    targets:
      - 192.0.2.10
      - 192.0.2.11
      - 192.0.2.12
    source: 10.20.1.15
    min_healthy_targets: 2
  register: dx_probe

- name: Stop when fewer than two of the three routers are reachable
  ansible.builtin.assert:
    that: dx_probe.healthy
    fail_msg: "Only {{ dx_probe.healthy_targets }} of {{ dx_probe.targets | length }} targets are healthy"

- name: Wait until the path is healthy again, with strict loss and latency limits
  localzones.failover.icmp_probe:
    targets: [onprem-core.example.internal]
    count: 10
    interval: 0.1
    timeout: 0.5
    max_loss_pct: 0
    max_rtt_ms: 20
  register: dx_probe
  until: dx_probe.healthy
  retries: 30
  delay: 10

- name: Probe without root using unprivileged ping sockets
  localzones.failover.icmp_probe:
    targets: ["2001:db8:100::1"]
    privileged: false
"""

RETURN = r"""
problems:
  description: Every problem found in the options or the targets, when the module failed because of them.
  returned: failure, when options or targets are invalid
  type: list
  elements: str
  sample: ["count must be an integer of at least 1, got 0"]
healthy:
  description: Whether at least O(min_healthy_targets) targets are healthy.
  returned: success
  type: bool
  sample: true
healthy_targets:
  description: Number of healthy targets.
  returned: success
  type: int
  sample: 2
min_healthy_targets:
  description: The quorum that was applied.
  returned: success
  type: int
  sample: 2
duration_ms:
  description: Wall time of the whole probe in milliseconds, measured with a monotonic clock.
  returned: success
  type: float
  sample: 412.7
targets:
  description: Statistics per target, in the order of O(targets).
  returned: success
  type: list
  elements: dict
  contains:
    target:
      description: The target as given in O(targets).
      type: str
      sample: onprem-core.example.internal
    address:
      description: The IP address that was probed (the resolved address when a name was given).
      type: str
      sample: 192.0.2.10
    sent:
      description: Number of echo requests attempted, including those the kernel refused to send.
      type: int
      sample: 3
    received:
      description: Number of echo replies received in time.
      type: int
      sample: 3
    loss_pct:
      description: Percentage of echo requests without a reply in time, rounded to two decimals.
      type: float
      sample: 0.0
    rtt_min_ms:
      description: Shortest round-trip time in milliseconds; null when nothing was received.
      type: float
      sample: 1.204
    rtt_avg_ms:
      description: Average round-trip time in milliseconds; null when nothing was received.
      type: float
      sample: 1.392
    rtt_max_ms:
      description: Longest round-trip time in milliseconds; null when nothing was received.
      type: float
      sample: 1.733
    jitter_ms:
      description:
        - Mean absolute difference between the round-trip times of consecutive replies, in milliseconds.
        - Null when fewer than two replies were received.
      type: float
      sample: 0.265
    healthy:
      description: Whether this target meets O(max_loss_pct) and O(max_rtt_ms) and answered at least once.
      type: bool
      sample: true
    last_error:
      description:
        - Why the most recent lost echo request was lost (timeout, not sent for lack of a route,
          ICMP error reported by a router); null when nothing was lost.
      type: str
      sample: "timeout: no reply within 1 s"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import (
    DEFAULT_COUNT,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_LOSS_PCT,
    DEFAULT_MIN_HEALTHY_TARGETS,
    DEFAULT_TIMEOUT,
)
from ansible_collections.localzones.failover.plugins.module_utils.probing.icmp import (
    DEFAULT_PRIVILEGED,
    HAS_ICMPLIB,
    ICMPLIB_IMPORT_TRACEBACK,
    ProbeSettings,
    run_probe,
)


def argument_spec():
    return dict(
        targets=dict(type="list", elements="str", required=True),
        count=dict(type="int", default=DEFAULT_COUNT),
        interval=dict(type="float", default=DEFAULT_INTERVAL),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        source=dict(type="str"),
        privileged=dict(type="bool", default=DEFAULT_PRIVILEGED),
        min_healthy_targets=dict(type="int", default=DEFAULT_MIN_HEALTHY_TARGETS),
        max_loss_pct=dict(type="float", default=DEFAULT_MAX_LOSS_PCT),
        max_rtt_ms=dict(type="float"),
    )


def settings_from_params(params):
    return ProbeSettings(
        targets=tuple(params["targets"]),
        count=params["count"],
        interval=params["interval"],
        timeout=params["timeout"],
        source=params["source"],
        privileged=params["privileged"],
        min_healthy_targets=params["min_healthy_targets"],
        max_loss_pct=params["max_loss_pct"],
        max_rtt_ms=params["max_rtt_ms"],
    )


def probe(params):
    """Return ``(report, None)``, or ``(None, error)`` when probing was impossible."""
    try:
        return run_probe(settings_from_params(params)), None
    except FailoverError as exc:
        return None, exc


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_ICMPLIB:
        module.fail_json(msg=missing_required_lib("icmplib"), exception=ICMPLIB_IMPORT_TRACEBACK)
    report, failure = probe(module.params)
    if failure is not None:
        # An operator error with a complete message, not a crash: reported without a traceback.
        module.fail_json(msg=failure.message, changed=False, **failure.details)
    module.exit_json(changed=False, **report.as_dict())


if __name__ == "__main__":
    main()
