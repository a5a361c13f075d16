# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill with monitors in pairs: which monitor it reads, the holder fault's checks and its event.

The drill role's variables as Ansible templates them (tests/support/role_vars.py), on
localhost, with the facts preflight.yml and record_stop.yml set (``drill_lease_holder``,
``drill_lease_holder_after``) given as the scenario's variables.
"""

from __future__ import annotations

from tests.support.role_vars import role_values

EXPRESSIONS = ["__drill_monitor_host", "__drill_journal_host", "__drill_holder_fault_set", "__drill_events",
               "__drill_setting_problems | select('search', 'holder') | list"]
BASE = {"drill_monitor_host": "utility-a", "__drill_record_started": 1000.0,
        "drill_flow": {"vpc_host": "localhost", "vpc_address": "198.18.2.10", "onprem_host": "localhost", "onprem_address": "198.19.0.10"}}
FAULT = {"name": "crash", "host": "localhost", "start": "true"}


def test_with_a_table_the_drill_reads_the_holder_and_the_report_the_holder_after_the_drill():
    single, paired, taken_over = role_values(
        "drill", EXPRESSIONS,
        BASE,
        dict(BASE, drill_coordination_table="lz-coordination", drill_lease_holder="utility-b"),
        dict(BASE, drill_coordination_table="lz-coordination", drill_lease_holder="utility-b", drill_lease_holder_after="utility-a"),
    )
    assert (single["__drill_monitor_host"], single["__drill_journal_host"]) == ("utility-a", "utility-a")
    assert (paired["__drill_monitor_host"], paired["__drill_journal_host"]) == ("utility-b", "utility-b")
    # After a takeover: preflight's checks were on the old holder, the journal is the new one's.
    assert (taken_over["__drill_monitor_host"], taken_over["__drill_journal_host"]) == ("utility-b", "utility-a")
    assert [event["event"] for event in taken_over["__drill_events"]] == ["recording started"]


def test_a_holder_fault_needs_the_table_and_a_start_command_and_goes_on_the_timeline():
    no_table, no_start, unknown_host, ready, none_given = role_values(
        "drill", EXPRESSIONS,
        dict(BASE, drill_holder_fault=FAULT),
        dict(BASE, drill_coordination_table="lz-coordination", drill_holder_fault={"name": "crash"}),
        dict(BASE, drill_coordination_table="lz-coordination", drill_holder_fault=dict(FAULT, host="nowhere")),
        dict(BASE, drill_coordination_table="lz-coordination", drill_holder_fault=FAULT, drill_lease_holder="utility-b",
             __drill_holder_fault_started=1001.5),
        dict(BASE, drill_coordination_table="lz-coordination", drill_holder_fault={}),
    )
    problems = "__drill_setting_problems | select('search', 'holder') | list"
    assert no_table[problems] == ["drill_holder_fault needs drill_coordination_table: only monitors in pairs have a holder to lose"]
    assert no_start[problems] == ["drill_holder_fault needs a start command"]
    assert unknown_host[problems] == ["drill_holder_fault.host nowhere is not in the inventory"]
    assert (ready[problems], ready["__drill_holder_fault_set"]) == ([], True)
    assert ready["__drill_events"][1] == {"time": 1001.5, "source": "drill", "event": "lease holder utility-b taken away (crash)"}
    # The lab's default, {} (no -e lab_holder_fault): nothing is taken away.
    assert (none_given["__drill_holder_fault_set"], none_given[problems]) == (False, [])
