# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ICMP echo probing (``probe.kind: icmp``), used by the icmp_probe module and the monitor daemon.

Two ways in:

* ``run_probe(settings)``: one-shot measurement for the module. ``count`` echoes per
  target, sent ``interval`` seconds apart, each allowed ``timeout`` seconds, all targets
  at once; returns a ``ProbeReport`` with per-target statistics and a quorum verdict.
* ``IcmpProber``: the ``Prober`` of this kind, a long-lived object for the daemon. It
  opens one ICMP socket per address family once and keeps it open; ``round()`` sends
  ``echoes`` echoes to every target, back to back, and returns within ``timeout`` with
  the ``EchoResult`` of each echo, per target.

A target that cannot be reached is never an exception: a send the kernel refuses (no
route), an ICMP error reply, and silence all count as a lost echo. Only problems that
make probing itself impossible (bad target text, a name that does not resolve, no
permission for ICMP sockets, an unusable source address) raise ``ProbeError``.

Results, statistics and verdicts are those of every kind (``probing.base``). All
durations are measured with ``time.monotonic`` so clock steps cannot distort RTTs.
"""

from __future__ import annotations

import math
import os
import random
import selectors
import time
import traceback
from dataclasses import dataclass

from ..errors import ProbeError, ValidationError
from ..validation import SelfChecking
from .base import DEFAULT_COUNT
from .base import DEFAULT_ECHOES
from .base import DEFAULT_INTERVAL
from .base import DEFAULT_MAX_LOSS_PCT
from .base import DEFAULT_MIN_HEALTHY_TARGETS
from .base import DEFAULT_TIMEOUT
from .base import EchoResult
from .base import Prober
from .base import ProbeReport
from .base import ResolvedTarget
from .base import checked_echoes
from .base import checked_timeout
from .base import health_limit_problems
from .base import ip_version
from .base import parse_ip
from .base import quorum_problems
from .base import quorum_verdict
from .base import resolve_target
from .base import resolve_targets
from .base import schedule_problems
from .base import source_problems
from .base import summarize_echoes
from .base import target_list_problems

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

DEFAULT_PRIVILEGED = True

# ICMP message types by IP version: the echo reply, and the error messages that carry a
# copy of our request (so they can be matched to it and end that echo early as lost).
_ECHO_REPLY_TYPE = {4: 0, 6: 129}
_ERROR_TYPES = {4: {3: "destination unreachable", 11: "time exceeded"}, 6: {1: "destination unreachable", 3: "time exceeded"}}

# A fixed payload: icmplib would otherwise generate a random one for every echo.
_PAYLOAD = b"localzones.failover icmp probe".ljust(56, b".")

# Upper bound for reading one packet that the selector reported as ready. It only
# matters if that packet is too short to parse and icmplib waits for another one.
_READ_BOUND_S = 0.01


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
        problems = target_list_problems(self.targets)
        problems.extend(schedule_problems(self.count, self.interval, self.timeout))
        problems.extend(health_limit_problems(self.max_loss_pct, self.max_rtt_ms))
        if not isinstance(self.privileged, bool):
            problems.append("privileged must be true or false, got %r" % (self.privileged,))
        problems.extend(quorum_problems(self.min_healthy_targets, self.targets))
        problems.extend(source_problems(self.source, self.targets))
        return problems


def _without_scope(text):
    return text.split("%", 1)[0]


def _canonical(text):
    """Canonical text of an IP address without its IPv6 zone, for comparing reply sources."""
    address = parse_ip(_without_scope(text))
    return str(address) if address is not None else text


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


class IcmpProber(Prober):
    """Long-lived ICMP prober: sockets stay open across rounds; echoes go to all targets at once.

    One socket per address family carries the echoes of every target, told apart by
    sequence number (and, on raw sockets, by this prober's identifier), and a selector
    waits on those sockets; nothing is created per round.

    A caller probing on a fixed cadence should use a timeout no longer than its round
    interval, since a round with a dead target lasts the whole timeout. Unprivileged
    (ping) sockets do not receive ICMP error replies, so there an unreachable target is
    only noticed by its timeout; raw sockets end such an echo as soon as the error arrives.
    """

    def __init__(self, targets, source=None, privileged=DEFAULT_PRIVILEGED, timeout=DEFAULT_TIMEOUT, echoes=DEFAULT_ECHOES):
        require_icmplib()
        self._echoes = checked_echoes(echoes)
        version = ip_version(source) if source else None
        self._targets = tuple(target if isinstance(target, ResolvedTarget) else resolve_target(target, version) for target in targets)
        if not self._targets:
            raise ProbeError("a prober needs at least one target")
        self._canonical_addresses = tuple(_canonical(target.address) for target in self._targets)
        self._timeout = checked_timeout(timeout)
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

    @property
    def echoes(self):
        return self._echoes

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
        """Send ``echoes`` echoes to every target at once; return per target the tuple of their EchoResults.

        Targets are in target order, each one's echoes in sending order, every echo with a
        sequence number of its own. Returns as soon as every echo is answered, and at the
        latest ``timeout`` seconds (default: the prober's) after the round started,
        however many targets are dead.
        """
        timeout = self._timeout if timeout is None else checked_timeout(timeout)
        self._pending.clear()  # late replies from an earlier round must not count now
        first_sequence = dict(self._next_sequence)
        deadline = time.monotonic() + timeout
        echoes = [[] for _target in self._targets]
        # All echoes leave back to back at the round's start rather than spread over the
        # interval: each then has the whole timeout to be answered and the round still ends
        # within it, so a cut is detected after hard_failure_rounds rounds plus one timeout,
        # as with one echo. The price: bursty loss (a queue overflowing, a flapping link)
        # takes neighbouring packets together, so the echoes of one round are often lost
        # together, and n echoes make a falsely failed round less rare than the loss rate
        # to the n-th power that independent losses would give.
        for _number in range(self._echoes):
            self._collect(echoes, [self._send_echo(index, deadline, timeout) for index in range(len(self._targets))])
        self._collect(echoes, self._await_replies(until=deadline))
        return [_in_sending_order(target_echoes, first_sequence[target.version]) for target, target_echoes in zip(self._targets, echoes)]

    def series(self, count, interval, timeout=None):
        """Send ``count`` echoes to every target, ``interval`` s apart; return EchoResults per target.

        Echoes overlap: a new one is sent every ``interval`` seconds while earlier ones are
        still waiting for their ``timeout``, so dead targets cost ``(count - 1) * interval +
        timeout`` in total instead of ``count * timeout``.
        """
        timeout = self._timeout if timeout is None else checked_timeout(timeout)
        problems = schedule_problems(count, interval, timeout)
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


def _in_sending_order(echoes, first_sequence):
    """One target's echoes of a round as a tuple in sending order.

    Sequence numbers are taken in sending order from ``first_sequence`` on and wrap at 16
    bits; a round uses far fewer than 65536 of them, so the distance from the first is exact.
    """
    return tuple(sorted(echoes, key=lambda echo: (echo.sequence - first_sequence) & 0xFFFF))


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
    version = ip_version(settings.source) if settings.source else None
    resolved = resolve_targets(settings.targets, version)
    with IcmpProber(resolved, settings.source, settings.privileged, settings.timeout) as prober:
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
