# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacing a method of one of moto's classes, and calling the method it replaced.

A behaviour module's ``install()`` calls ``patch``; a replacement that extends
moto (rather than replacing it outright) calls ``original`` to reach moto's own
method.  Only behaviours.install() runs the installs, once per process.
"""

from __future__ import annotations

# moto's own methods, by "Class.name", for the replacements that extend them.
_ORIGINALS: dict = {}


def patch(owner, name, replacement):
    """Replace ``owner.name`` with ``replacement``; moto's method stays reachable through original()."""
    _ORIGINALS[f"{owner.__name__}.{name}"] = owner.__dict__.get(name)
    setattr(owner, name, replacement)


def original(owner, name):
    """moto's ``owner.name`` as it was before patch() replaced it."""
    return _ORIGINALS[f"{owner.__name__}.{name}"]
