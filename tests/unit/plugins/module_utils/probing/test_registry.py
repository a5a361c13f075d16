# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry of probe kinds (probing/__init__.py): which kinds exist and how a wrong one is refused.

That ``prober_for("icmp", ...)`` builds the ICMP prober is checked in test_icmp.py, on
its fake sockets; that a registered kind reaches the daemon, in tests/unit/monitor/test_probe_kind.py.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from ansible_collections.localzones.failover.plugins.module_utils import probing
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import Prober
from ansible_collections.localzones.failover.plugins.module_utils.probing.icmp import IcmpProber


def test_icmp_is_the_default_and_only_kind_today():
    assert probing.DEFAULT_KIND == "icmp"
    assert probing.PROBERS == {"icmp": IcmpProber}
    assert issubclass(IcmpProber, Prober)
    assert probing.kind_problem("icmp") is None


@pytest.mark.parametrize("kind", ["tcp", "ICMP", "", None, ["icmp"]])
def test_an_unknown_kind_is_refused_with_the_known_kinds_named(kind):
    with pytest.raises(ValidationError) as caught:
        probing.prober_for(kind, ["198.18.1.1"])
    assert caught.value.problems == ["unknown probe kind %r; known kinds: icmp" % (kind,)]


def test_the_known_kinds_are_read_when_asked(monkeypatch):
    monkeypatch.setitem(probing.PROBERS, "bfd", IcmpProber)
    assert probing.kind_problem("bfd") is None
    assert probing.kind_problem("tcp") == "unknown probe kind 'tcp'; known kinds: bfd, icmp"


def test_every_prober_in_the_package_is_a_registered_kind():
    """A new kind is one module with a Prober subclass; forgetting its line in PROBERS fails here."""
    probers = set()
    for info in pkgutil.iter_modules(probing.__path__):
        module = importlib.import_module(probing.__name__ + "." + info.name)
        probers |= {
            value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Prober) and value is not Prober and value.__module__ == module.__name__
        }
    assert probers == set(probing.PROBERS.values())
