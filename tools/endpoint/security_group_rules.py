# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security group rules for an IP protocol without ports (ESP, ``50``; GRE, ``47``; ...).

moto requires a port range for every protocol but ``-1`` and fails with a server
error without one.  EC2 takes a rule for any protocol but TCP, UDP, ICMP and
ICMPv6 without ports and describes it with ``IpProtocol`` ``"50"`` and no
``FromPort`` / ``ToPort``, as this does.
"""

from __future__ import annotations

from moto.ec2.models.security_groups import SecurityGroupRule

from .patching import original
from .patching import patch

# The protocols whose rules have ports (ICMP's are type and code); EC2 ignores ports for any other.
_PROTOCOLS_WITH_PORTS = frozenset({"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58", "-1", "all"})


def _security_group_rule_init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, *args, **kwargs):  # pylint: disable=too-many-arguments
    """SecurityGroupRule.__init__ that takes, like EC2, a rule for a protocol without ports (ESP: "50") and keeps no ports."""
    moto_init = original(SecurityGroupRule, "__init__")
    if ip_protocol is None or str(ip_protocol).lower() in _PROTOCOLS_WITH_PORTS:
        moto_init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, *args, **kwargs)
        return
    moto_init(self, ec2_backend, "-1", group_id, None, None, *args, **kwargs)
    self.ip_protocol = str(ip_protocol)


def install():
    """Patch moto's SecurityGroupRule (called once, by behaviours.install())."""
    patch(SecurityGroupRule, "__init__", _security_group_rule_init)
