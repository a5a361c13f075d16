# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Direct Connect accepts for the customer's end of a virtual interface's BGP session.

The limits are AWS's (Direct Connect User Guide, "BGP-specific settings", and the
API's ``authKey``): the checks name every setting that breaks one, so the dx_router
role can refuse a bad inventory in one message before it changes anything.
"""

from __future__ import annotations

import ipaddress
import re

from .validation import cidr_problem
from .validation import is_int

# Customer-side ASNs: 2-byte and 4-byte ("long ASN") ranges together.
ASN_MIN, ASN_MAX = 1, 4294967294
# AWS rejects a hold time of 0 (no keepalives at all); RFC 4271 needs 3 s at least.
HOLD_MIN, HOLD_MAX = 3, 65535
KEEPALIVE_MIN = 1
# Asynchronous BFD on the AWS side: 300 ms minimum interval, multiplier 3 minimum.
BFD_INTERVAL_MIN_MS = 300
BFD_MULTIPLIER_MIN, BFD_MULTIPLIER_MAX = 3, 255
# authKey of a virtual interface: 6 to 80 characters (80 is also Linux's TCP MD5 key limit).
MD5_KEY_MIN, MD5_KEY_MAX = 6, 80
# BIRD symbols: a letter or underscore, then letters, digits and underscores (no hyphen: `aws-dx`
# is a parse error). BIRD's limit is 64 characters, and the role appends "_announced" (10).
BIRD_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BIRD_SYMBOL_MAX = 64 - len("_announced")
# Linux interface names: at most 15 bytes, no slash or whitespace; quoted into a BIRD string, so
# only the characters interface names use in practice (VLANs: eth1.101).
INTERFACE_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
# BIRD's reconnect timers, in seconds.
RECONNECT_MIN, RECONNECT_MAX = 1, 65535


def _as_int(value):
    """An integer setting as Ansible may pass it (an int, or digits from -e), else None; a boolean is not one."""
    if is_int(value):
        return value
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def _truthy(value):
    """A boolean setting as Ansible may pass it (a bool, or text such as 'false' from -e)."""
    return str(value).strip().lower() in ("true", "yes", "on", "1")


def _int_problem(name, value, low, high, why):
    number = _as_int(value)
    if number is None or not low <= number <= high:
        return "%s must be an integer from %d to %d (%s); it is %r." % (name, low, high, why, value)
    return None


def asn_problems(local_asn, amazon_asn):
    problems = [
        _int_problem("dx_router_local_asn", local_asn, ASN_MIN, ASN_MAX, "the customer-side ASNs Direct Connect accepts"),
        _int_problem("dx_router_amazon_asn", amazon_asn, ASN_MIN, ASN_MAX, "a 2-byte or 4-byte ASN"),
    ]
    if _as_int(local_asn) is not None and _as_int(local_asn) == _as_int(amazon_asn):
        problems.append("dx_router_local_asn and dx_router_amazon_asn are both %d: a virtual interface is eBGP, the ASNs differ." % _as_int(local_asn))
    return [problem for problem in problems if problem]


def _customer_interface(customer_address):
    try:
        if "/" not in str(customer_address):
            raise ValueError("no prefix length")
        interface = ipaddress.ip_interface(str(customer_address))
    except ValueError:
        return None
    return interface if interface.version == 4 else None


def _amazon_ip(amazon_address):
    try:
        return ipaddress.ip_interface(str(amazon_address)).ip
    except ValueError:
        return None


def link_problems(customer_address, amazon_address):
    """The customer's link address (with its prefix) and the Amazon peer's, as the virtual interface gives them."""
    interface = _customer_interface(customer_address)
    amazon = _amazon_ip(amazon_address)
    problems = []
    if interface is None:
        problems.append("dx_router_customer_address must be the IPv4 address with prefix length the virtual interface "
                        "gives as customerAddress (e.g. 169.254.100.2/30); it is %r." % (customer_address,))
    if amazon is None or amazon.version != 4:
        problems.append("dx_router_amazon_address must be the Amazon peer's IPv4 address (amazonAddress); it is %r." % (amazon_address,))
    if problems:
        return problems
    if amazon not in interface.network:
        problems.append("dx_router_amazon_address %s is outside the link %s of dx_router_customer_address." % (amazon, interface.network))
    elif amazon == interface.ip:
        problems.append("dx_router_amazon_address %s is the local address itself (dx_router_customer_address)." % amazon)
    elif interface.network.prefixlen < 31 and amazon in (interface.network.network_address, interface.network.broadcast_address):
        problems.append("dx_router_amazon_address %s is the network or broadcast address of %s." % (amazon, interface.network))
    if "/" in str(amazon_address) and ipaddress.ip_interface(str(amazon_address)).network != interface.network:
        problems.append("dx_router_amazon_address %s and dx_router_customer_address %s name different links." % (amazon_address, customer_address))
    return problems


def prefix_problems(name, prefixes, required):
    """Each entry an IPv4 network (validation.cidr_problem: no host bits set); the session carries IPv4 only."""
    if not isinstance(prefixes, (list, tuple)):
        return ["%s must be a list of IPv4 networks; it is %r." % (name, prefixes)]
    if required and not prefixes:
        return ["%s is empty: the router would announce nothing over Direct Connect." % name]
    bad = [str(prefix) for prefix in prefixes
           if cidr_problem(str(prefix)) is not None or ipaddress.ip_network(str(prefix)).version != 4]
    if bad:
        return ["%s must hold IPv4 networks with prefix length and no host bits (e.g. 10.20.0.0/16); these are not: %s."
                % (name, ", ".join(bad))]
    return []


def timer_problems(hold, keepalive):
    problems = [_int_problem("dx_router_hold_time", hold, HOLD_MIN, HOLD_MAX, "Direct Connect does not support a hold time of 0"),
                _int_problem("dx_router_keepalive_time", keepalive, KEEPALIVE_MIN, HOLD_MAX, "seconds")]
    problems = [problem for problem in problems if problem]
    if not problems and _as_int(keepalive) >= _as_int(hold):
        problems.append("dx_router_keepalive_time %s must be shorter than dx_router_hold_time %s (usually a third of it)." % (keepalive, hold))
    return problems


def bfd_problems(enabled, min_tx_ms, min_rx_ms, multiplier):
    if not _truthy(enabled):
        return []
    problems = [
        _int_problem("dx_router_bfd_min_tx_ms", min_tx_ms, BFD_INTERVAL_MIN_MS, 255000, "Direct Connect's BFD minimum interval is 300 ms"),
        _int_problem("dx_router_bfd_min_rx_ms", min_rx_ms, BFD_INTERVAL_MIN_MS, 255000, "Direct Connect's BFD minimum interval is 300 ms"),
        _int_problem("dx_router_bfd_multiplier", multiplier, BFD_MULTIPLIER_MIN, BFD_MULTIPLIER_MAX, "Direct Connect's BFD minimum multiplier is 3"),
    ]
    return [problem for problem in problems if problem]


def md5_key_problems(required, length, quotable):
    """Only facts about the key come in (its length, whether BIRD can quote it): never the key."""
    if not length:
        return ["dx_router_md5_key is missing, and dx_router_md5_required is true (every virtual interface has a BGP "
                "authentication key: use the one the virtual interface shows)."] if required else []
    problems = []
    if not MD5_KEY_MIN <= length <= MD5_KEY_MAX:
        problems.append("dx_router_md5_key must be %d to %d characters long (Direct Connect's authKey); it has %d."
                        % (MD5_KEY_MIN, MD5_KEY_MAX, length))
    if not quotable:
        problems.append("dx_router_md5_key must be printable ASCII without double quotes or backslashes (written into a BIRD string).")
    return problems


def identity_problems(bgp_name, router_id, interface):
    """The names that go into bird.conf: the protocol name, the router ID, the interface."""
    problems = []
    name = str(bgp_name if bgp_name is not None else "")
    if not BIRD_SYMBOL.match(name) or len(name) > BIRD_SYMBOL_MAX:
        problems.append("dx_router_bgp_name must be a BIRD name: a letter or underscore, then letters, digits and underscores, "
                        "at most %d characters (no hyphen); it is %r." % (BIRD_SYMBOL_MAX, bgp_name))
    try:
        ipaddress.IPv4Address(str(router_id))
    except ValueError:
        problems.append("dx_router_router_id must be an IPv4 address (BIRD's router ID); it is %r." % (router_id,))
    text = str(interface if interface is not None else "").strip()
    if not text:
        problems.append("dx_router_interface (the link's interface) is missing.")
    elif not INTERFACE_NAME.match(str(interface)):
        problems.append("dx_router_interface must be a Linux interface name: 1 to 15 letters, digits or _ . : @ - "
                        "(no quotes, spaces or wildcards); it is %r." % (interface,))
    return problems


def reconnect_problems(connect_delay, connect_retry, error_wait_min, error_wait_max):
    """BIRD's connect delay, connect retry and error wait times: whole seconds, the error wait range in order."""
    names = ("dx_router_connect_delay_time", "dx_router_connect_retry_time", "dx_router_error_wait_time_min",
             "dx_router_error_wait_time_max")
    values = (connect_delay, connect_retry, error_wait_min, error_wait_max)
    problems = [_int_problem(name, value, RECONNECT_MIN, RECONNECT_MAX, "seconds") for name, value in zip(names, values)]
    problems = [problem for problem in problems if problem]
    if not problems and _as_int(error_wait_min) > _as_int(error_wait_max):
        problems.append("dx_router_error_wait_time_min %s must not exceed dx_router_error_wait_time_max %s."
                        % (error_wait_min, error_wait_max))
    return problems


def dx_router_problems(settings):
    """Every problem of the dx_router role's settings (a dict keyed by variable name), in one list."""
    key = settings.get("md5_key_facts") or {}
    return (
        asn_problems(settings.get("dx_router_local_asn"), settings.get("dx_router_amazon_asn"))
        + link_problems(settings.get("dx_router_customer_address"), settings.get("dx_router_amazon_address"))
        + prefix_problems("dx_router_announced_prefixes", settings.get("dx_router_announced_prefixes"), required=True)
        + prefix_problems("dx_router_accepted_prefixes", settings.get("dx_router_accepted_prefixes", []), required=False)
        + timer_problems(settings.get("dx_router_hold_time"), settings.get("dx_router_keepalive_time"))
        + bfd_problems(settings.get("dx_router_bfd_enabled"), settings.get("dx_router_bfd_min_tx_ms"),
                       settings.get("dx_router_bfd_min_rx_ms"), settings.get("dx_router_bfd_multiplier"))
        + md5_key_problems(_truthy(settings.get("dx_router_md5_required")), _as_int(key.get("length") or 0) or 0,
                           _truthy(key.get("quotable", True)))
        + identity_problems(settings.get("dx_router_bgp_name"), settings.get("dx_router_router_id"), settings.get("dx_router_interface"))
        + reconnect_problems(settings.get("dx_router_connect_delay_time"), settings.get("dx_router_connect_retry_time"),
                             settings.get("dx_router_error_wait_time_min"), settings.get("dx_router_error_wait_time_max"))
    )
