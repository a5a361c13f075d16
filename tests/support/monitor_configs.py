# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitor daemon configurations the unit tests start from, as documents and as files."""

from __future__ import annotations

import yaml

TARGETS = ["198.19.0.10", "198.19.0.11"]


def document(**changes):
    """A valid configuration probing TARGETS, with top-level keys replaced by ``changes``."""
    base = {
        "region": "us-east-1",
        "route_table_ids": ["rtb-0123456789abcdef0"],
        "destination_cidrs": ["198.19.0.0/24"],
        "vpn_eni_id": "eni-0123456789abcdef0",
        "probe": {"targets": list(TARGETS)},
        "policy": {"failback_hold_s": 3, "dampening_max_hold_s": 60},
        "state_file": "/nonexistent/state.json",
    }
    base.update(changes)
    return base


def write_config(path, content):
    """Write ``content`` as the YAML file at ``path`` (a pathlib.Path); return the path as text."""
    path.write_text(yaml.safe_dump(content))
    return str(path)


# The schema as the Ansible role renders it: every key, with its default value.
FULL_YAML = """\
region: us-east-1
endpoint_url: null
route_table_ids: [rtb-0123456789abcdef0]
destination_cidrs: [198.19.0.0/24, "2001:db8:100::/56"]
vpn_eni_id: eni-0123456789abcdef0
probe_route_table_id: null
route_strategy: per_route
prefix_list_id: null
routes_per_table_quota: 500
probe:
  targets: [198.19.0.10]
  interval: 0.1
  timeout: 0.1
  echoes: 2
  source: null
  privileged: true
  min_healthy_targets: 1
  max_rtt_ms: null
policy:
  hard_failure_rounds: 4
  brownout_window_s: 10
  brownout_loss_pct: 25
  brownout_max_rtt_ms: null
  brownout_min_window_fraction: 0.5
  failback_hold_s: 30
  dampening_window_s: 900
  dampening_max_hold_s: 600
vpn_check:
  enabled: false
  targets: []
  interval: 1.0
  timeout: 0.5
  source: null
  min_healthy_targets: 1
  unhealthy_after_rounds: 3
  healthy_after_rounds: 2
reconcile_interval_s: 30
status_interval_s: 10
api:
  max_attempts: 1
  connect_timeout_s: 3
  read_timeout_s: 5
  retry_backoff_max_s: 10
  max_parallel_calls: 8
  mutating_rate_per_s: 5.0
  mutating_burst: 50
metrics:
  enabled: true
  address: 127.0.0.1
  port: 9190
  allow_remote: false
notifications:
  sns_topic_arn: null
  region: null
  endpoint_url: null
cloudwatch:
  enabled: false
  namespace: LocalZonesFailover
  interval_s: 60
  failover_group: lz-failover
  timeout_s: 5
  region: null
  endpoint_url: null
coordination:
  table: null
  failover_group: null
  monitor_id: null
  lease_s: 8
  renew_interval_s: 1
  max_clock_skew_s: 1
  region: null
  endpoint_url: null
state_file: /var/lib/lz-failover-monitor/state.json
log_level: info
"""
