# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probing of on-premises targets: the ``Prober`` interface and its kinds.

* ``base``: the ``Prober`` interface, targets, results, statistics and verdicts that
  every kind shares;
* ``icmp``: ICMP echo, the kind ``icmp`` (the icmp_probe module's and the daemon's default).

The monitor daemon's ``probe.kind`` names the kind; ``prober_for`` builds it. A new
kind (TCP connect, BFD-driven, ...) is one new module here with a ``base.Prober``
subclass, plus its line in ``PROBERS``.
"""

from __future__ import annotations

from ..errors import ValidationError
from ..policy.defaults import default
from .icmp import IcmpProber

DEFAULT_KIND = default("probe.kind")  # the one table of defaults says which

# probe.kind -> the Prober class of that kind.
PROBERS = {
    "icmp": IcmpProber,
}


def kind_problem(kind):
    """Return why ``kind`` names no probe kind, or None when it names one.

    The registry is read on every call, so a kind added to PROBERS at any time counts.
    """
    if isinstance(kind, str) and kind in PROBERS:
        return None
    return "unknown probe kind %r; known kinds: %s" % (kind, ", ".join(sorted(PROBERS)))


def prober_for(kind, targets, **options):
    """Build the Prober of ``kind`` for ``targets``; ``options`` are the constructor's keywords (see base.Prober).

    An unknown kind raises ValidationError naming the known ones.
    """
    problem = kind_problem(kind)
    if problem:
        raise ValidationError(problem)
    return PROBERS[kind](targets, **options)
