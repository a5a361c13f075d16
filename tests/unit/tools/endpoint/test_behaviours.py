# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing the emulated behaviours (tools/endpoint/behaviours.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tools.endpoint

from tests.unit.tools.endpoint.ec2_calls import ONPREM_V4
from tests.unit.tools.endpoint.ec2_calls import PROPAGATED
from tests.unit.tools.endpoint.ec2_calls import STATIC
from tests.unit.tools.endpoint.ec2_calls import api_error
from tests.unit.tools.endpoint.ec2_calls import origins_to
from tests.unit.tools.endpoint.ec2_calls import route_via_eni
from tools.endpoint import behaviours

pytestmark = pytest.mark.moto


def test_install_is_idempotent(ec2, lz_world):
    behaviours.install()
    behaviours.install()

    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)
    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V4, NetworkInterfaceId=lz_world.vpn_eni_id)
    assert error.code == "RouteAlreadyExists"
    assert origins_to(ec2, lz_world.prod_rtb_id, ONPREM_V4) == [STATIC, PROPAGATED]


def test_every_module_that_patches_moto_is_a_listed_behaviour():
    """A new behaviour file is one module with an ``install()``; forgetting its line in BEHAVIOURS fails here."""
    patching_modules = set()
    for info in pkgutil.iter_modules(tools.endpoint.__path__):
        if info.name in ("__main__", "behaviours"):
            continue  # the entry point runs a server when imported; behaviours installs the others
        module = importlib.import_module("tools.endpoint." + info.name)
        install = getattr(module, "install", None)
        if callable(install) and install.__module__ == module.__name__:  # defined here, not imported
            patching_modules.add(module)
    assert patching_modules == set(behaviours.BEHAVIOURS)
