# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto's reset (``POST /moto-api/reset``) also forgets the state the endpoint keeps outside moto's models.

Most of the endpoint's state lives on moto's model objects and goes with them;
the fault rules and counters (faults.py), the throttling settings and
counters (throttling.py), the Direct Connect emulation (direct_connect.py) and
the request log (request_log.py) do not, so the reset clears them here (throttling goes back to the settings the
endpoint started with).
"""

from __future__ import annotations

from moto.moto_api._internal.models import MotoAPIBackend

from . import direct_connect
from . import faults
from . import request_log
from . import throttling
from .patching import original
from .patching import patch


def _reset_moto_and_endpoint_state(self):
    """MotoAPIBackend.reset that also clears the fault rules, the throttling counters, the Direct Connect state and the request log."""
    original(MotoAPIBackend, "reset")(self)
    faults.clear_faults()
    request_log.clear()
    throttling.reset()
    direct_connect.reset()


def install():
    """Patch moto's reset (called once, by behaviours.install())."""
    patch(MotoAPIBackend, "reset", _reset_moto_and_endpoint_state)
