# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover monitor's log events: their names, and the fields readers rely on.

The daemon (monitor/) writes one JSON line per event: ``ts``, ``level``, ``event`` and
the event's fields (monitor/logs.py). The failover drill reads those lines back from
the journal (drill/parse.py). Both sides take the event names from here, so renaming an
event is one edit. The daemon writes fields as keyword arguments, so a renamed field is
two edits, and tests/unit/monitor/test_events.py fails until both sides agree.

A transition's fields are ``from_path`` and ``to_path``: in the log, in the metric labels
(``transitions_total{from_path,to_path,reason}``), in lz_route_watch's changes and in the
daemon's code. The state file (``last_transition``) and the SNS notification store the
same two values as ``from`` and ``to``; those are formats users already have on disk and
in their subscriptions, so they keep their names (renaming either would change a
user-visible format).
"""

from __future__ import annotations

# Field names shared by several events.
FROM_PATH = "from_path"
TO_PATH = "to_path"
REASON = "reason"
PATH = "path"
CODE = "code"

# Lifecycle
STARTING = "starting"
STARTUP_FAILED = "startup_failed"
FATAL_ERROR = "fatal_error"
STOPPING = "stopping"
STOPPED = "stopped"
CONFIG_INVALID = "config_invalid"
RELOAD_REQUESTED = "reload_requested"
CONFIG_RELOADED = "config_reloaded"
CONFIG_RELOAD_REJECTED = "config_reload_rejected"
METRICS_LISTEN_FAILED = "metrics_listen_failed"

# State file
STATE_FILE_LOADED = "state_file_loaded"
STATE_FILE_MISSING = "state_file_missing"
STATE_FILE_IGNORED = "state_file_ignored"
STATE_FILE_WRITE_FAILED = "state_file_write_failed"

# Decisions and probing
INITIAL_PATH = "initial_path"
TRANSITION = "transition"
ALERT = "alert"
STATUS = "status"
PROBE_ERROR = "probe_error"
VPN_HEALTH = "vpn_health"
VPN_CHECK_FAILED = "vpn_check_failed"

# Route tables
ROUTES_CONVERGED = "routes_converged"
ROUTE_ACTION = "route_action"
ROUTE_CONFLICT = "route_conflict"
ROUTE_TABLES_INVALID = "route_tables_invalid"
ROUTE_TABLES_WARNING = "route_tables_warning"
ROUTES_LEFT_UNMANAGED = "routes_left_unmanaged"
ROUTING_NOTE = "routing_note"
DRIFT_DETECTED = "drift_detected"
API_ERROR = "api_error"
ACTUATOR_ERROR = "actuator_error"

# Operator pin (coordination/pin.py): a path fixed in the coordination table, which the holder follows.
# Fields: PATH, PIN_UNTIL (epoch s, None: until released), PIN_WHO, PIN_WHY; pin_ended adds REASON
# ("released": the item was deleted, "expired": its until passed).
PIN_IN_FORCE = "pin_in_force"  # a pin this monitor had not followed yet (a first one, or one replacing another)
PIN_ENDED = "pin_ended"  # the pin it followed is no longer in force; its own decision applies again
PIN_UNTIL = "until"
PIN_WHO = "who"
PIN_WHY = "why"

# Coordination of the monitors of one failover group (the lease: one writer)
LEASE_ACQUIRED = "lease_acquired"
LEASE_LOST = "lease_lost"
LEASE_RELEASED = "lease_released"
LEASE_LEFT_TO_EXPIRE = "lease_left_to_expire"  # a route call was still in flight: no release, the lease runs out
COORDINATION_ERROR = "coordination_error"
NOT_WRITER = "not_writer"
LEASE_STEPPED_DOWN = "lease_stepped_down"  # EC2 failed too long: the lease is given up and not taken
LEASE_ELIGIBLE = "lease_eligible"  # EC2 answers again: the monitor may take the lease again

# Reporting
CLOUDWATCH_DROPPED = "cloudwatch_dropped"
CLOUDWATCH_FAILED = "cloudwatch_failed"
NOTIFICATION_FAILED = "notification_failed"

# Records of other libraries (botocore) logged through the daemon's formatter.
LIBRARY = "library"

# The events a failover drill puts in its timeline, and the fields it keeps of each. Other
# fields (evidence, messages, targets) are left out: a drill report carries timings and events only.
DRILL_FIELDS = {
    TRANSITION: (FROM_PATH, TO_PATH, REASON),
    ROUTES_CONVERGED: (PATH, "since_decision_ms", "actions"),
    ROUTE_ACTION: ("action", "route_table_id", "outcome", "latency_ms", CODE),
    ALERT: (ALERT, PATH),
    API_ERROR: ("operation", CODE, "consecutive_failures"),
}
