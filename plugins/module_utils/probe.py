# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ICMP echo probing of on-premises targets, shared by the icmp_probe module and the monitor daemon.

Two ways in:

* ``run_probe(settings)``: one-shot measurement for the module. ``count`` echoes per
  target, sent ``interval`` seconds apart, each allowed ``timeout`` seconds, all targets
  at once; returns a ``ProbeReport`` with per-target statistics and a quorum verdict.
* ``Prober``: a long-lived object for the daemon. It opens one ICMP socket per address
  family once and keeps it open; ``Prober.round()`` sends one echo to every target
  concurrently and returns within ``timeout`` with one ``EchoResult`` per target.

A target that cannot be reached is never an exception: a send the kernel refuses (no
route), an ICMP error reply, and silence all count as a lost echo. Only problems that
make probing itself impossible (bad target text, a name that does not resolve, no
permission for ICMP sockets, an unusable source address) raise ``ProbeError``.

Definitions used in the results:

* ``loss_pct``: ``100 * (sent - received) / sent``. ``sent`` counts every echo that was
  attempted, including sends the kernel refused, so an unroutable target shows 100% loss.
* ``jitter_ms``: mean absolute difference between the RTTs of consecutive replies, in the
  order the echoes were sent (the unsmoothed form of the RFC 3550 inter-arrival
  variation). ``None`` with fewer than two replies.
* a target is healthy when it answered at least once, its loss is at most
  ``max_loss_pct`` and, when ``max_rtt_ms`` is set, its average RTT is at most that.
* the verdict is healthy when at least ``min_healthy_targets`` targets are healthy.

All durations are measured with ``time.monotonic`` so clock steps cannot distort RTTs.
"""

from __future__ import annotations

import ipaddress
import math
import os
import random
import re
import selectors
import socket
import time
import traceback
from dataclasses import dataclass

from .errors import ProbeError, ValidationError
from .validation import SelfChecking
from .validation import is_int
from .validation import is_number
from .validation import unique

try:
    import icmplib
except ImportError as _icmplib_error:  # ansible-test's import sanity test runs without third-party packages
    HAS_ICMPLIB = False
    ICMPLIB_IMPORT_ERROR = _icmplib_error
    ICMPLIB_IMPORT_TRACEBACK = traceback.format_exc()
else:
    HAS_ICMPLIB = True
    ICMPLIB_IMPORT_ERROR = None
    ICMPLIB_IMPORT_TRACEBACK = None

DEFAULT_COUNT = 3
DEFAULT_INTERVAL = 0.2
DEFAULT_TIMEOUT = 1.0
DEFAULT_PRIVILEGED = True
DEFAULT_MIN_HEALTHY_TARGETS = 1
DEFAULT_MAX_LOSS_PCT = 50.0

# ICMP message types by IP version: the echo reply, and the error messages that carry a
# copy of our request (so they can be matched to it and end that echo early as lost).
_ECHO_REPLY_TYPE = {4: 0, 6: 129}
_ERROR_TYPES = {4: {3: "destination unreachable", 11: "time exceeded"}, 6: {1: "destination unreachable", 3: "time exceeded"}}

# A fixed payload: icmplib would otherwise generate a random one for every echo.
_PAYLOAD = b"localzones.failover icmp probe".ljust(56, b".")

# Upper bound for reading one packet that the selector reported as ready. It only
# matters if that packet is too short to parse and icmplib waits for another one.
_READ_BOUND_S = 0.01

_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)%s(?:\.%s)*\.?$" % (_HOST_LABEL, _HOST_LABEL), re.IGNORECASE)
_DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProbeSettings(SelfChecking):
    """What to probe and how to judge it; ``validate()`` reports every problem at once."""

    targets: tuple
    count: int = DEFAULT_COUNT
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    source: str | None = None
    privileged: bool = DEFAULT_PRIVILEGED
    min_healthy_targets: int = DEFAULT_MIN_HEALTHY_TARGETS
    max_loss_pct: float = DEFAULT_MAX_LOSS_PCT
    max_rtt_ms: float | None = None

    def problems(self):
        """Return the list of everything wrong with these settings (empty when valid)."""
        problems = _target_list_problems(self.targets)
        problems.extend(_number_problems(self))
        problems.extend(_quorum_problems(self.min_healthy_targets, self.targets))
        problems.extend(_source_problems(self.source, self.targets))
        return problems


def _target_list_problems(targets):
    if isinstance(targets, str) or not isinstance(targets, (list, tuple)):
        return ["targets must be a list of IP addresses or host names, got %r" % (targets,)]
    if not targets:
        return ["targets must list at least one IP address or host name"]
    problems = []
    seen = set()
    for target in targets:
        if not isinstance(target, str) or not target.strip():
            problems.append("targets: %r is not an IP address or host name" % (target,))
            continue
        key = _comparable_target(target)
        if key in seen:
            problems.append("targets: %s is listed more than once" % target)
        seen.add(key)
    return problems


def _comparable_target(target):
    """Normalize IP literals (2001:DB8::1 == 2001:db8::1) and names (case) for duplicate checks."""
    address = _parse_ip(target)
    return str(address) if address is not None else target.strip().lower().rstrip(".")


def _number_problems(settings):
    problems = []
    if not is_int(settings.count) or settings.count < 1:
        problems.append("count must be an integer of at least 1, got %r" % (settings.count,))
    if not is_number(settings.interval) or settings.interval < 0:
        problems.append("interval must be a number of seconds >= 0, got %r" % (settings.interval,))
    if not is_number(settings.timeout) or settings.timeout <= 0:
        problems.append("timeout must be a number of seconds > 0, got %r" % (settings.timeout,))
    if not is_number(settings.max_loss_pct) or not 0 <= settings.max_loss_pct <= 100:
        problems.append("max_loss_pct must be a percentage between 0 and 100, got %r" % (settings.max_loss_pct,))
    if settings.max_rtt_ms is not None and (not is_number(settings.max_rtt_ms) or settings.max_rtt_ms <= 0):
        problems.append("max_rtt_ms must be a number of milliseconds > 0 (or unset), got %r" % (settings.max_rtt_ms,))
    if not isinstance(settings.privileged, bool):
        problems.append("privileged must be true or false, got %r" % (settings.privileged,))
    return problems


def _quorum_problems(min_healthy_targets, targets):
    if not is_int(min_healthy_targets):
        return ["min_healthy_targets must be an integer, got %r" % (min_healthy_targets,)]
    if min_healthy_targets < 1:
        return ["min_healthy_targets must be at least 1, got %d" % min_healthy_targets]
    if isinstance(targets, (list, tuple)) and targets and min_healthy_targets > len(targets):
        return ["min_healthy_targets is %d but only %d targets are listed; it must be between 1 and %d" % (min_healthy_targets, len(targets), len(targets))]
    return []


def _source_problems(source, targets):
    if source is None:
        return []
    address = _parse_ip(source) if isinstance(source, str) else None
    if address is None:
        return ["source %r is not an IP address (give an address of this host, not a name)" % (source,)]
    if not isinstance(targets, (list, tuple)):
        return []
    other_family = unique(target for target in targets if isinstance(target, str) and _ip_version(target) not in (None, address.version))
    if other_family:
        return ["source %s is IPv%d but these targets are not: %s; probe each address family separately" % (source, address.version, ", ".join(other_family))]
    return []


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ResolvedTarget:
    """A target as configured (``target``) and the IP address probed for it."""

    target: str
    address: str
    version: int


def _parse_ip(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _ip_version(text):
    address = _parse_ip(text)
    return address.version if address is not None else None


def _without_scope(text):
    return text.split("%", 1)[0]


def _canonical(text):
    """Canonical text of an IP address without its IPv6 zone, for comparing reply sources."""
    address = _parse_ip(_without_scope(text))
    return str(address) if address is not None else text


def resolve_target(target, version=None):
    """Return the ResolvedTarget for an IP literal or a host name; ProbeError when impossible.

    IP literals are used as they are. A name is resolved once with getaddrinfo (the first
    answer, in the system's preference order); ``version`` (4 or 6) restricts the lookup,
    which is how a configured source address selects the family of the answer.
    """
    text = target.strip()
    address = _parse_ip(text)
    if address is not None:
        if version is not None and address.version != version:
            raise ProbeError("target %s is IPv%d but IPv%d is required (it must match the source address family)" % (text, address.version, version))
        return ResolvedTarget(target, str(address), address.version)
    if _DOTTED_NUMBERS.match(text) or ":" in text:
        raise ProbeError("target %r is not a valid IP address" % target)
    if not _HOSTNAME.match(text):
        raise ProbeError("target %r is neither an IP address nor a valid host name" % target)
    return _resolve_name(target, text, version)


def _resolve_name(target, name, version):
    family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(version, socket.AF_UNSPEC)
    try:
        answers = socket.getaddrinfo(name, None, family, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        wanted = " to an IPv%d address" % version if version else ""
        raise ProbeError("target %r does not resolve%s: %s" % (target, wanted, reason)) from exc
    for answer_family, _type, _proto, _canonname, sockaddr in answers:
        if answer_family in (socket.AF_INET, socket.AF_INET6):
            resolved = ipaddress.ip_address(sockaddr[0])
            return ResolvedTarget(target, str(resolved), resolved.version)
    raise ProbeError("target %r resolved to no IPv4 or IPv6 address" % target)


def resolve_targets(targets, version=None):
    """Resolve every target; one ProbeError names all that fail or that land on the same address."""
    resolved = []
    failures = []
    for target in targets:
        try:
            resolved.append(resolve_target(target, version))
        except ProbeError as exc:
            failures.append(exc.message)
    if failures:
        raise ProbeError("; ".join(failures), problems=failures)
    by_address = {}
    for item in resolved:
        by_address.setdefault(item.address, []).append(item.target)
    shared = ["%s resolve to the same address %s" % (" and ".join(names), address) for address, names in by_address.items() if len(names) > 1]
    if shared:
        # Counting one host twice would let a single reply satisfy a quorum of two.
        raise ProbeError("targets must be distinct hosts: " + "; ".join(shared))
    return resolved


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EchoResult:
    """The outcome of one echo request: an RTT when answered, else why it counts as lost."""

    target: str
    address: str
    sequence: int
    sent_at: float
    rtt_ms: float | None = None
    error: str | None = None

    @property
    def received(self):
        return self.rtt_ms is not None


@dataclass(frozen=True)
class TargetStats:
    """Statistics of the echoes sent to one target."""

    target: str
    address: str
    sent: int
    received: int
    loss_pct: float
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    jitter_ms: float | None
    healthy: bool
    last_error: str | None = None

    def as_dict(self):
        return {
            "target": self.target,
            "address": self.address,
            "sent": self.sent,
            "received": self.received,
            "loss_pct": self.loss_pct,
            "rtt_min_ms": self.rtt_min_ms,
            "rtt_avg_ms": self.rtt_avg_ms,
            "rtt_max_ms": self.rtt_max_ms,
            "jitter_ms": self.jitter_ms,
            "healthy": self.healthy,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class ProbeReport:
    """The verdict over all targets and the statistics it was based on."""

    healthy: bool
    healthy_targets: int
    min_healthy_targets: int
    targets: tuple
    duration_ms: float

    def as_dict(self):
        return {
            "healthy": self.healthy,
            "healthy_targets": self.healthy_targets,
            "min_healthy_targets": self.min_healthy_targets,
            "targets": [stats.as_dict() for stats in self.targets],
            "duration_ms": self.duration_ms,
        }


def loss_percentage(sent, received):
    """Percentage of ``sent`` echoes without a reply; 100 when nothing was sent."""
    if sent <= 0:
        return 100.0
    return 100.0 * (sent - received) / sent


def jitter(rtts_ms):
    """Mean absolute difference between consecutive RTTs (ms), or None with fewer than two."""
    if len(rtts_ms) < 2:
        return None
    return sum(abs(later - earlier) for earlier, later in zip(rtts_ms, rtts_ms[1:])) / (len(rtts_ms) - 1)


def is_target_healthy(received, loss_pct, rtt_avg_ms, max_loss_pct, max_rtt_ms=None):
    """Apply the per-target health rule described in the module docstring."""
    if received <= 0 or loss_pct > max_loss_pct:
        return False
    return max_rtt_ms is None or rtt_avg_ms <= max_rtt_ms


def _rounded(value, digits=3):
    return None if value is None else round(value, digits)


def target_statistics(target, address, sent, rtts_ms, max_loss_pct, max_rtt_ms=None, last_error=None):
    """Build TargetStats from the RTTs (ms, in sending order) of the echoes that were answered."""
    received = len(rtts_ms)
    loss_pct = loss_percentage(sent, received)
    rtt_avg = sum(rtts_ms) / received if received else None
    return TargetStats(
        target=target,
        address=address,
        sent=sent,
        received=received,
        loss_pct=round(loss_pct, 2),
        rtt_min_ms=_rounded(min(rtts_ms)) if received else None,
        rtt_avg_ms=_rounded(rtt_avg),
        rtt_max_ms=_rounded(max(rtts_ms)) if received else None,
        jitter_ms=_rounded(jitter(rtts_ms)),
        # Judged on unrounded numbers so that rounding for display never flips the verdict.
        healthy=is_target_healthy(received, loss_pct, rtt_avg, max_loss_pct, max_rtt_ms),
        last_error=last_error,
    )


def summarize_echoes(resolved, echoes, max_loss_pct, max_rtt_ms=None):
    """TargetStats for one target from its EchoResults (any order; sorted by sending time here)."""
    ordered = sorted(echoes, key=lambda echo: echo.sent_at)
    rtts = [echo.rtt_ms for echo in ordered if echo.received]
    errors = [echo.error for echo in ordered if not echo.received]
    return target_statistics(resolved.target, resolved.address, len(ordered), rtts, max_loss_pct, max_rtt_ms, errors[-1] if errors else None)


def quorum_verdict(stats, min_healthy_targets):
    """Return ``(healthy, healthy_targets)``: healthy when at least min_healthy_targets are."""
    healthy_targets = sum(1 for item in stats if item.healthy)
    return healthy_targets >= min_healthy_targets, healthy_targets


# --------------------------------------------------------------------------- sockets


def require_icmplib():
    """Raise ProbeError when icmplib is missing (callers with a nicer channel check HAS_ICMPLIB)."""
    if not HAS_ICMPLIB:
        raise ProbeError("the Python library icmplib is required on the probing host: pip install icmplib (%s)" % ICMPLIB_IMPORT_ERROR)


def _ping_group_range():
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return "unknown"


def _permission_advice(privileged):
    if privileged:
        return (
            "opening a raw ICMP socket needs root or the CAP_NET_RAW capability: run as root (become: true), "
            "or use privileged: false with net.ipv4.ping_group_range covering one of this process's groups"
        )
    groups = sorted({os.getgid()} | set(os.getgroups()))
    return (
        "unprivileged ICMP (ping) sockets are not allowed for this process's groups %s: net.ipv4.ping_group_range "
        "is '%s' in this network namespace; allow them, e.g. sysctl -w net.ipv4.ping_group_range='0 2147483647' "
        "(persist it under /etc/sysctl.d/), or run as root with privileged: true" % (groups, _ping_group_range())
    )


def open_icmp_socket(version, source=None, privileged=True):
    """Open an icmplib socket for IPv4 or IPv6, turning setup failures into actionable ProbeErrors."""
    require_icmplib()
    socket_class = icmplib.ICMPv4Socket if version == 4 else icmplib.ICMPv6Socket
    try:
        return socket_class(address=source, privileged=privileged)
    except icmplib.SocketPermissionError as exc:
        raise ProbeError(_permission_advice(privileged)) from exc
    except icmplib.SocketAddressError as exc:
        raise ProbeError(
            "source address %s cannot be used: it is not assigned to an interface in this host's network namespace "
            "(or, for IPv6, is still tentative during duplicate address detection); use an address of this host or omit source" % source
        ) from exc
    except icmplib.ICMPSocketError as exc:
        raise ProbeError("cannot open an ICMPv%d socket%s: %s" % (version, " bound to %s" % source if source else "", exc)) from exc


# --------------------------------------------------------------------------- prober


class _PendingEcho:
    """An echo that was sent and has neither been answered nor timed out."""

    __slots__ = ("index", "sequence", "sent_at", "deadline", "timeout")

    def __init__(self, index, sequence, sent_at, deadline, timeout):
        self.index = index
        self.sequence = sequence
        self.sent_at = sent_at
        self.deadline = deadline
        self.timeout = timeout


class Prober:
    """Long-lived ICMP prober: sockets stay open across rounds; echoes go to all targets at once.

    One socket per address family carries the echoes of every target, told apart by
    sequence number (and, on raw sockets, by this prober's identifier), and a selector
    waits on those sockets; nothing is created per round. Use it as a context manager or
    call ``close()``.

    A caller probing on a fixed cadence should use a timeout no longer than its round
    interval, since a round with a dead target lasts the whole timeout. Unprivileged
    (ping) sockets do not receive ICMP error replies, so there an unreachable target is
    only noticed by its timeout; raw sockets end such an echo as soon as the error arrives.
    """

    def __init__(self, targets, source=None, privileged=DEFAULT_PRIVILEGED, timeout=DEFAULT_TIMEOUT):
        require_icmplib()
        version = _ip_version(source) if source else None
        self._targets = tuple(target if isinstance(target, ResolvedTarget) else resolve_target(target, version) for target in targets)
        if not self._targets:
            raise ProbeError("a prober needs at least one target")
        self._canonical_addresses = tuple(_canonical(target.address) for target in self._targets)
        self._timeout = _checked_timeout(timeout)
        self._privileged = privileged
        # Raw sockets see every ICMP packet of the host; this identifier picks out ours.
        # Ping sockets get their identifier from the kernel, which also filters replies.
        self._identifier = random.randrange(1, 0x10000)
        self._sockets = {}
        self._selector = selectors.DefaultSelector()
        self._next_sequence = {}
        self._pending = {}
        try:
            for version_needed in sorted({target.version for target in self._targets}):
                self._open_family(version_needed, source)
        except BaseException:
            self.close()
            raise

    def _open_family(self, version, source):
        icmp_socket = open_icmp_socket(version, source, self._privileged)
        self._sockets[version] = icmp_socket
        self._selector.register(icmp_socket.sock, selectors.EVENT_READ, version)
        self._next_sequence[version] = random.randrange(0x10000)

    @property
    def targets(self):
        return self._targets

    @property
    def privileged(self):
        return self._privileged

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the sockets and the selector; the prober cannot be used afterwards."""
        for icmp_socket in self._sockets.values():
            if icmp_socket.sock is not None:
                self._selector.unregister(icmp_socket.sock)
            icmp_socket.close()
        self._sockets = {}
        self._selector.close()
        self._pending = {}

    # -- public probing

    def round(self, timeout=None):
        """Send one echo to every target at once; return their EchoResults in target order.

        Returns as soon as every echo is answered, and at the latest ``timeout`` seconds
        (default: the prober's) after the round started, however many targets are dead.
        """
        timeout = self._timeout if timeout is None else _checked_timeout(timeout)
        self._pending.clear()  # late replies from an earlier round must not count now
        deadline = time.monotonic() + timeout
        finished = [self._send_echo(index, deadline, timeout) for index in range(len(self._targets))]
        finished.extend(self._await_replies(until=deadline))
        by_index = {}
        for index, echo in finished:
            if echo is not None:
                by_index[index] = echo
        return [by_index[index] for index in range(len(self._targets))]

    def series(self, count, interval, timeout=None):
        """Send ``count`` echoes to every target, ``interval`` s apart; return EchoResults per target.

        Echoes overlap: a new one is sent every ``interval`` seconds while earlier ones are
        still waiting for their ``timeout``, so dead targets cost ``(count - 1) * interval +
        timeout`` in total instead of ``count * timeout``.
        """
        timeout = self._timeout if timeout is None else _checked_timeout(timeout)
        problems = _number_problems(ProbeSettings(targets=(), count=count, interval=interval, timeout=timeout))
        if problems:
            raise ValidationError(problems)
        self._pending.clear()
        echoes = [[] for _target in self._targets]
        start = time.monotonic()
        for number in range(count):
            self._collect(echoes, self._wait_until(start + number * interval))
            deadline = time.monotonic() + timeout
            self._collect(echoes, [self._send_echo(index, deadline, timeout) for index in range(len(self._targets))])
        self._collect(echoes, self._await_replies(until=math.inf))
        return echoes

    # -- internals

    @staticmethod
    def _collect(echoes, finished):
        for index, echo in finished:
            if echo is not None:
                echoes[index].append(echo)

    def _wait_until(self, when):
        """Handle replies until ``when``, sleeping once nothing is outstanding."""
        finished = self._await_replies(until=when)
        remaining = when - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return finished

    def _take_sequence(self, version):
        sequence = self._next_sequence[version]
        self._next_sequence[version] = (sequence + 1) & 0xFFFF
        return sequence

    def _send_echo(self, index, deadline, timeout):
        """Send one echo; return ``(index, EchoResult)`` if it is already lost, else ``(index, None)``."""
        target = self._targets[index]
        sequence = self._take_sequence(target.version)
        request = icmplib.ICMPRequest(destination=target.address, id=self._identifier, sequence=sequence, payload=_PAYLOAD)
        sent_at = time.monotonic()
        try:
            self._sockets[target.version].send(request)
        except icmplib.SocketBroadcastError:
            # icmplib reports every EACCES/EPERM on send this way; for a unicast target it
            # means a local firewall rule rejected the packet.
            return index, self._lost(index, sequence, sent_at, "not sent: the local host refused to send it (firewall rule or broadcast address)")
        except icmplib.ICMPSocketError as exc:
            # ENETUNREACH / EHOSTUNREACH and the like: the target is unreachable right now.
            return index, self._lost(index, sequence, sent_at, "not sent: %s" % exc)
        self._pending[(target.version, sequence)] = _PendingEcho(index, sequence, sent_at, deadline, timeout)
        return index, None

    def _lost(self, index, sequence, sent_at, error):
        target = self._targets[index]
        return EchoResult(target.target, target.address, sequence, sent_at, None, error)

    def _await_replies(self, until):
        """Match replies and expire overdue echoes until ``until`` or until none is outstanding."""
        finished = []
        while self._pending:
            now = time.monotonic()
            finished.extend(self._expire_overdue(now))
            if not self._pending or now >= until:
                break
            wait = min(until, min(pending.deadline for pending in self._pending.values())) - now
            for key, _events in self._selector.select(max(wait, 0.0)):
                finished.extend(self._read_reply(key.data))
        return finished

    def _expire_overdue(self, now):
        overdue = [key for key, pending in self._pending.items() if pending.deadline <= now]
        expired = []
        for key in overdue:
            pending = self._pending.pop(key)
            waited = self._lost(pending.index, pending.sequence, pending.sent_at, "timeout: no reply within %g s" % pending.timeout)
            expired.append((pending.index, waited))
        return expired

    def _read_reply(self, version):
        """Read one packet from a ready socket; return ``[(index, EchoResult)]`` if it settles an echo."""
        try:
            reply = self._sockets[version].receive(None, _READ_BOUND_S)
        except icmplib.ICMPSocketError:
            return []  # nothing parsable after all, or a transient socket error: keep waiting
        received_at = time.monotonic()
        if self._privileged and reply.id != self._identifier:
            return []  # another program's ICMP traffic, seen because raw sockets see everything
        pending = self._pending.get((version, reply.sequence))
        if pending is None:
            return []  # a reply to an echo that already timed out, or not ours
        if reply.type == _ECHO_REPLY_TYPE[version]:
            if _canonical(reply.source) != self._canonical_addresses[pending.index]:
                return []
            del self._pending[(version, reply.sequence)]
            target = self._targets[pending.index]
            return [(pending.index, EchoResult(target.target, target.address, pending.sequence, pending.sent_at, (received_at - pending.sent_at) * 1000.0))]
        if reply.type in _ERROR_TYPES[version]:
            # An ICMP error quoting our request: the echo is lost; say who reported what.
            del self._pending[(version, reply.sequence)]
            return [(pending.index, self._lost(pending.index, pending.sequence, pending.sent_at, _describe_icmp_error(reply, version)))]
        return []  # our own echo requests looping back, neighbour discovery, ...


def _checked_timeout(timeout):
    if not is_number(timeout) or timeout <= 0:
        raise ValidationError("timeout must be a number of seconds > 0, got %r" % (timeout,))
    return timeout


def _describe_icmp_error(reply, version):
    try:
        reply.raise_for_status()
    except icmplib.ICMPError as exc:
        detail = str(exc)
    else:
        detail = "type %d code %d" % (reply.type, reply.code)
    return "%s from %s: %s" % (_ERROR_TYPES[version][reply.type], reply.source, detail)


# --------------------------------------------------------------------------- one-shot


def run_probe(settings):
    """Validate ``settings``, probe every target ``count`` times, and return a ProbeReport."""
    settings.validate()
    require_icmplib()
    started = time.monotonic()
    version = _ip_version(settings.source) if settings.source else None
    resolved = resolve_targets(settings.targets, version)
    with Prober(resolved, settings.source, settings.privileged, settings.timeout) as prober:
        echoes = prober.series(settings.count, settings.interval)
    stats = tuple(summarize_echoes(target, target_echoes, settings.max_loss_pct, settings.max_rtt_ms) for target, target_echoes in zip(resolved, echoes))
    healthy, healthy_targets = quorum_verdict(stats, settings.min_healthy_targets)
    return ProbeReport(
        healthy=healthy,
        healthy_targets=healthy_targets,
        min_healthy_targets=settings.min_healthy_targets,
        targets=stats,
        duration_ms=round((time.monotonic() - started) * 1000.0, 3),
    )
