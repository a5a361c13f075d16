# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``probe.kind``: the daemon and its VPN path check build their probers by kind.

A second kind registered only in this test travels from the configuration file through
``probing.prober_for`` into the daemon: the seam a TCP or BFD-driven probe would use.
"""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils import probing
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import EchoResult
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import Prober
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import resolve_target
from lz_failover_monitor.config import validate_document
from tests.support.monitor_configs import TARGETS
from tests.support.monitor_configs import document
from tests.support.monitor_doubles import Harness

VPN_TARGETS = ["198.19.1.10"]


class AlwaysAnswers(Prober):
    """A probe kind for tests: every target answers in 1 ms; it keeps the options it was built with."""

    def __init__(self, targets, source=None, privileged=True, timeout=1.0, echoes=1):
        self._targets = tuple(resolve_target(target) for target in targets)
        self.options = {"source": source, "privileged": privileged, "timeout": timeout, "echoes": echoes}
        self.closed = False

    @property
    def targets(self):
        return self._targets

    def round(self, timeout=None):
        echoes = range(self.options["echoes"])
        return [tuple(EchoResult(target.target, target.address, number, 0.0, rtt_ms=1.0) for number in echoes) for target in self._targets]

    def close(self):
        self.closed = True


@pytest.fixture
def always_answers(monkeypatch):
    """Register AlwaysAnswers as the kind ``always`` for one test."""
    monkeypatch.setitem(probing.PROBERS, "always", AlwaysAnswers)
    return "always"


def with_kind(kind):
    return validate_document(document(
        probe={"targets": list(TARGETS), "kind": kind, "timeout": 0.05, "privileged": False, "echoes": 3},
        vpn_check={"enabled": True, "targets": list(VPN_TARGETS)},
    ))


def test_icmp_is_the_default_kind():
    assert validate_document(document()).probe.kind == "icmp"


def test_an_unknown_kind_is_refused_with_the_known_kinds_named():
    with pytest.raises(ValidationError) as caught:
        with_kind("tcp")
    assert caught.value.problems == ["probe.kind: unknown probe kind 'tcp'; known kinds: icmp"]


def test_a_registered_kind_is_picked_by_the_daemons_configuration(always_answers):
    config = with_kind(always_answers)
    harness = Harness(config=config)
    monitor = harness.monitor
    monitor._open_prober(config)  # pylint: disable=protected-access
    assert isinstance(monitor.prober, AlwaysAnswers)
    assert [target.address for target in monitor.prober.targets] == TARGETS
    assert monitor.prober.options == {"source": None, "privileged": False, "timeout": 0.05, "echoes": 3}
    monitor._probe_once(harness.clock.now)  # pylint: disable=protected-access
    assert harness.sample("lz_failover_probe_rounds_total") == 1 and harness.sample("lz_failover_probe_rounds_failed_total") == 0
    assert harness.sample("lz_failover_echoes_sent_total", target=TARGETS[0]) == 3, "the configured echoes per round reach the prober"
    vpn_prober = monitor._new_vpn_checker(config)._prober  # pylint: disable=protected-access
    assert isinstance(vpn_prober, AlwaysAnswers)
    assert [target.address for target in vpn_prober.targets] == VPN_TARGETS and vpn_prober.options["privileged"] is False
    assert vpn_prober.options["echoes"] == 1, "the VPN path check sends one echo per target per round"
