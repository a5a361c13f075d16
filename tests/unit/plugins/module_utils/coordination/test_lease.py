# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease's rules (coordination.lease): who may take it, the fencing number, the writer window, the settings."""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import LeaseRecord
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import lease_of
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import may_acquire
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import next_fencing
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import settings_problems
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import worst_case_takeover_s
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import writer_until

HELD_BY_A = LeaseRecord(holder="a", fencing=4, expires_at=1000.0)


def test_a_lease_item_becomes_a_record_and_is_found_among_the_groups_items():
    item = dict(schema.key("g1", schema.LEASE_RECORD))
    item.update({schema.HOLDER: {"S": "a"}, schema.FENCING: {"N": "4"}, schema.EXPIRES_AT: {"N": "1000.5"},
                 schema.RENEWED_AT: {"N": "992.5"}, schema.LEASE_S: {"N": "8"}})
    view = dict(schema.key("g1", schema.monitor_record("b")), **{schema.VIEW_ROLE: {"S": "standby"}})
    record = lease_of([view, item])
    assert record == LeaseRecord(holder="a", fencing=4, expires_at=1000.5, renewed_at=992.5, lease_s=8)
    assert isinstance(record.fencing, int)
    assert lease_of([view]) is None and LeaseRecord.from_item(None) is None


def test_a_lease_may_be_taken_when_absent_expired_in_the_readers_clock_or_already_mine():
    assert may_acquire(None, "b", now=0.0)
    assert may_acquire(HELD_BY_A, "a", now=999.0), "the holder renews"
    assert may_acquire(HELD_BY_A, "a", now=2000.0), "the holder renews even after expiry if nobody took it"
    assert not may_acquire(HELD_BY_A, "b", now=999.0)
    assert not may_acquire(HELD_BY_A, "b", now=1000.0), "expired means expires_at < now, not <="
    assert may_acquire(HELD_BY_A, "b", now=1000.01)


def test_the_fencing_grows_by_one_per_new_holder_and_stays_on_renewal():
    assert next_fencing(None, "a") == 1
    assert next_fencing(HELD_BY_A, "a") == 4
    assert next_fencing(HELD_BY_A, "b") == 5


def test_the_writer_window_ends_skew_and_call_margin_before_the_lease():
    assert writer_until(sent_at=100.0, lease_s=8, max_clock_skew_s=1, call_margin_s=3) == 104.0


@pytest.mark.parametrize("skew", [0.0, 0.5, 1.0])
def test_no_overlap_for_any_skew_within_the_bound(skew):
    """The docstring's argument with numbers: the holder's last call lands before a standby may take over."""
    lease_s, margin = 8.0, 3.0
    holder_wall_at_send, real_send = 5000.0, 0.0
    expires_at = holder_wall_at_send + lease_s
    # The standby's clock runs ``skew`` ahead of the holder's: it takes over at the earliest real time T with
    # standby_wall(T) = holder_wall_at_send + T + skew > expires_at.
    earliest_takeover = expires_at - holder_wall_at_send - skew
    last_call_landed = writer_until(real_send, lease_s, 1.0, margin) + margin
    assert last_call_landed <= earliest_takeover


def test_the_worst_case_takeover_is_lease_plus_one_renewal_interval_plus_skew():
    assert worst_case_takeover_s(8, 1, 1) == 10


def test_the_defaults_relate_well():
    assert settings_problems(lease_s=8, renew_interval_s=1, max_clock_skew_s=1, call_margin_s=3) == []


def test_a_renew_interval_above_a_third_of_the_lease_is_refused():
    problems = settings_problems(lease_s=9, renew_interval_s=3.5, max_clock_skew_s=0, call_margin_s=1)
    assert len(problems) == 1 and problems[0].startswith("coordination.renew_interval_s: must be <= a third of coordination.lease_s (3 s)")


def test_a_lease_that_would_end_the_writer_window_before_the_next_renewal_is_refused():
    problems = settings_problems(lease_s=6, renew_interval_s=1, max_clock_skew_s=2, call_margin_s=3)
    assert problems == [
        "coordination.lease_s: must be larger than coordination.max_clock_skew_s + api.connect_timeout_s + "
        "coordination.renew_interval_s (6 s), or the holder would stop writing before its next renewal, got 6 s"
    ]


def test_values_already_refused_are_not_compared():
    assert settings_problems(lease_s=None, renew_interval_s=100, max_clock_skew_s=1, call_margin_s=3) == []
