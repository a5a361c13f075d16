# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every probe kind shares (probing/base.py): statistics, verdicts and target resolution.

Name lookups are replaced by a fake getaddrinfo, so no query leaves the process.
"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ProbeError
from ansible_collections.localzones.failover.plugins.module_utils.probing import base


# --------------------------------------------------------------------------- settings rules (the modules' and the daemon's)


@pytest.mark.parametrize(
    "quorum, targets, expected",
    [(2, ["a", "b"], False), (3, ["a", "b"], True), (3, (), False), (3, None, False), (None, ["a"], False), (True, [], False)],
)
def test_a_quorum_exceeds_the_targets_only_when_both_are_usable(quorum, targets, expected):
    assert base.quorum_exceeds_targets(quorum, targets) is expected


def test_other_family_targets_name_ip_literals_by_index_and_pass_over_names():
    targets = ["198.18.1.1", " 2001:db8::1 ", "router.lab", 7, "not-an-ip", "2001:DB8::2"]
    assert base.other_family_targets(targets, 4) == [(1, " 2001:db8::1 "), (5, "2001:DB8::2")]
    assert base.other_family_targets(targets, 6) == [(0, "198.18.1.1")]


# --------------------------------------------------------------------------- statistics


def test_jitter_is_mean_absolute_difference_of_consecutive_rtts():
    assert base.jitter([10.0, 12.0, 9.0, 9.0]) == pytest.approx((2.0 + 3.0 + 0.0) / 3)


@pytest.mark.parametrize("rtts", [[], [4.2]])
def test_jitter_is_undefined_below_two_replies(rtts):
    assert base.jitter(rtts) is None


def test_jitter_depends_on_order_not_only_on_values():
    assert base.jitter([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert base.jitter([1.0, 3.0, 2.0]) == pytest.approx(1.5)


@pytest.mark.parametrize(("sent", "received", "expected"), [(4, 4, 0.0), (4, 3, 25.0), (3, 0, 100.0), (0, 0, 100.0)])
def test_loss_percentage(sent, received, expected):
    assert base.loss_percentage(sent, received) == pytest.approx(expected)


def test_statistics_of_a_fully_answered_target():
    stats = base.target_statistics("dx", "198.18.1.1", 4, [1.0, 2.0, 4.0, 1.0], max_loss_pct=0)
    assert (stats.sent, stats.received, stats.loss_pct) == (4, 4, 0.0)
    assert (stats.rtt_min_ms, stats.rtt_avg_ms, stats.rtt_max_ms) == (1.0, 2.0, 4.0)
    assert stats.jitter_ms == pytest.approx((1 + 2 + 3) / 3, abs=1e-3)
    assert stats.healthy is True
    assert stats.last_error is None


def test_statistics_of_a_silent_target_have_no_rtts_and_are_unhealthy():
    stats = base.target_statistics("dx", "198.18.1.1", 3, [], max_loss_pct=100, last_error="timeout")
    assert (stats.received, stats.loss_pct) == (0, 100.0)
    assert stats.rtt_min_ms is stats.rtt_avg_ms is stats.rtt_max_ms is stats.jitter_ms is None
    # Even a 100% loss budget needs at least one reply.
    assert stats.healthy is False
    assert stats.as_dict()["last_error"] == "timeout"


def test_loss_at_the_limit_is_healthy_and_above_it_is_not():
    assert base.target_statistics("t", "198.18.1.1", 4, [1.0, 1.0], max_loss_pct=50).healthy is True
    assert base.target_statistics("t", "198.18.1.1", 4, [1.0], max_loss_pct=50).healthy is False


def test_rounding_for_display_does_not_change_the_verdict():
    stats = base.target_statistics("t", "198.18.1.1", 3, [1.0, 1.0], max_loss_pct=33.33)
    assert stats.loss_pct == 33.33
    assert stats.healthy is False  # the real loss is 33.333...%


def test_average_rtt_limit():
    assert base.target_statistics("t", "198.18.1.1", 2, [10.0, 20.0], max_loss_pct=0, max_rtt_ms=15.0).healthy is True
    assert base.target_statistics("t", "198.18.1.1", 2, [10.0, 20.1], max_loss_pct=0, max_rtt_ms=15.0).healthy is False


def test_summary_orders_echoes_by_sending_time_and_keeps_the_latest_error():
    target = base.ResolvedTarget("dx", "198.18.1.1", 4)
    echoes = [
        base.EchoResult("dx", "198.18.1.1", 3, sent_at=3.0, rtt_ms=5.0),
        base.EchoResult("dx", "198.18.1.1", 1, sent_at=1.0, rtt_ms=1.0),
        base.EchoResult("dx", "198.18.1.1", 4, sent_at=4.0, error="timeout"),
        base.EchoResult("dx", "198.18.1.1", 2, sent_at=2.0, error="not sent: no route"),
    ]
    stats = base.summarize_echoes(target, echoes, max_loss_pct=50)
    assert (stats.sent, stats.received, stats.loss_pct) == (4, 2, 50.0)
    assert stats.jitter_ms == 4.0
    assert stats.last_error == "timeout"
    assert stats.healthy is True


def _stats(healthy):
    return base.target_statistics("t", "198.18.1.1", 1, [1.0] if healthy else [], max_loss_pct=0)


@pytest.mark.parametrize(
    ("states", "quorum", "expected"),
    [
        ([True, True, False], 2, (True, 2)),
        ([True, True, False], 3, (False, 2)),
        ([False, False, False], 1, (False, 0)),
        ([True], 1, (True, 1)),
    ],
)
def test_quorum_verdict(states, quorum, expected):
    assert base.quorum_verdict([_stats(state) for state in states], quorum) == expected


def test_report_dict_has_every_documented_key():
    report = base.ProbeReport(True, 1, 1, (_stats(True),), 12.5)
    data = report.as_dict()
    assert set(data) == {"healthy", "healthy_targets", "min_healthy_targets", "targets", "duration_ms"}
    assert set(data["targets"][0]) == {
        "target", "address", "sent", "received", "loss_pct", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "jitter_ms", "healthy", "last_error",
    }


# --------------------------------------------------------------------------- resolution


@pytest.fixture
def fake_dns(monkeypatch):
    """Replace getaddrinfo with a table; record the families asked for."""
    records = {
        "router.lab": [(socket.AF_INET6, "2001:db8:1::7"), (socket.AF_INET, "198.18.1.7")],
        "v4only.lab": [(socket.AF_INET, "198.18.1.8")],
        "alias.lab": [(socket.AF_INET, "198.18.1.1")],
    }
    calls = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # pylint: disable=redefined-builtin,unused-argument
        calls.append((host, family))
        answers = [(fam, socket.SOCK_DGRAM, 17, "", (addr, 0) if fam == socket.AF_INET else (addr, 0, 0, 0))
                   for fam, addr in records.get(host, []) if family in (socket.AF_UNSPEC, fam)]
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_ip_literals_are_used_as_given_without_lookup(fake_dns):
    assert base.resolve_target("198.18.1.1") == base.ResolvedTarget("198.18.1.1", "198.18.1.1", 4)
    assert base.resolve_target("2001:DB8:1:0::1") == base.ResolvedTarget("2001:DB8:1:0::1", "2001:db8:1::1", 6)
    assert not fake_dns


def test_a_name_is_resolved_once_to_the_first_answer(fake_dns):
    assert base.resolve_target("router.lab") == base.ResolvedTarget("router.lab", "2001:db8:1::7", 6)
    assert fake_dns == [("router.lab", socket.AF_UNSPEC)]


def test_a_required_family_restricts_the_lookup(fake_dns):
    assert base.resolve_target("router.lab", version=4).address == "198.18.1.7"
    assert fake_dns == [("router.lab", socket.AF_INET)]
    with pytest.raises(ProbeError, match=r"'v4only.lab' does not resolve to an IPv6 address: Name or service not known"):
        base.resolve_target("v4only.lab", version=6)


def test_a_literal_of_the_wrong_family_is_refused():
    with pytest.raises(ProbeError, match="2001:db8:1::1 is IPv6 but IPv4 is required"):
        base.resolve_target("2001:db8:1::1", version=4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("198.18.1.300", "'198.18.1.300' is not a valid IP address"),
        ("2001:db8::1::2", "'2001:db8::1::2' is not a valid IP address"),
        ("198.18.1", "'198.18.1' is not a valid IP address"),
        ("router lab", "'router lab' is neither an IP address nor a valid host name"),
        ("-router.lab", "'-router.lab' is neither an IP address nor a valid host name"),
    ],
)
def test_malformed_targets_are_named_in_the_error(fake_dns, text, message):
    with pytest.raises(ProbeError) as caught:
        base.resolve_target(text)
    assert message in caught.value.message
    assert not fake_dns


def test_unresolvable_names_are_all_named_in_one_error(fake_dns):  # pylint: disable=unused-argument
    with pytest.raises(ProbeError) as caught:
        base.resolve_targets(["198.18.1.1", "missing.lab", "198.18.1.999", "also-missing.lab"])
    assert caught.value.details["problems"] == [
        "target 'missing.lab' does not resolve: Name or service not known",
        "target '198.18.1.999' is not a valid IP address",
        "target 'also-missing.lab' does not resolve: Name or service not known",
    ]


def test_targets_that_resolve_to_the_same_host_are_refused(fake_dns):  # pylint: disable=unused-argument
    with pytest.raises(ProbeError, match="198.18.1.1 and alias.lab resolve to the same address 198.18.1.1"):
        base.resolve_targets(["198.18.1.1", "alias.lab"])
