# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing the emulated behaviours (tools/endpoint/behaviours.py)."""

from __future__ import annotations

import pytest

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
