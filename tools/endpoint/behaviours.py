# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registration point of the emulated EC2 behaviours: ``BEHAVIOURS``, and ``install()`` that patches moto with them.

Each module listed corrects moto where the collection depends on EC2's
behaviour; its ``install()`` patches moto's classes (through patching.patch).
A new behaviour is a new module with an ``install()``, added to ``BEHAVIOURS``.
"""

from __future__ import annotations

import threading

from . import elastic_ip_tags
from . import images
from . import instance_termination
from . import prefix_lists
from . import propagation
from . import reset
from . import routes
from . import security_group_rules
from . import throttling
from . import vpc_endpoint_dns
from . import zones

BEHAVIOURS = (
    routes,
    propagation,
    zones,
    images,
    security_group_rules,
    elastic_ip_tags,
    instance_termination,
    throttling,
    prefix_lists,
    vpc_endpoint_dns,
    reset,
)

_INSTALL_LOCK = threading.Lock()
_INSTALLED = threading.Event()


def install():
    """Patch moto with every behaviour (idempotent; safe to call from several places)."""
    with _INSTALL_LOCK:
        if _INSTALLED.is_set():
            return
        for behaviour in BEHAVIOURS:
            behaviour.install()
        _INSTALLED.set()
