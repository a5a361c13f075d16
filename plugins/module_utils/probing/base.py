# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every probe kind shares: the ``Prober`` interface, targets, results and verdicts.

A probe kind (ICMP today) only has to send its probes and tell which were answered;
everything else lives here so that each kind judges a target the same way:

* ``Prober``: the interface the daemon, the VPN path check and the modules use;
* target resolution (``resolve_target``/``resolve_targets``): IP literals as given, host
  names looked up once;
* results (``EchoResult`` for one probe, ``TargetStats`` per target, ``ProbeReport``
  overall) and the statistics and verdicts computed from them;
* the checks of the settings every kind has: targets, count, interval, timeout, source,
  quorum, loss and RTT limits, echoes per round.

Definitions used in the results:

* ``loss_pct``: ``100 * (sent - received) / sent``. ``sent`` counts every probe that was
  attempted, including sends the kernel refused, so an unroutable target shows 100% loss.
* ``jitter_ms``: mean absolute difference between the RTTs of consecutive replies, in the
  order the probes were sent (the unsmoothed form of the RFC 3550 inter-arrival
  variation). ``None`` with fewer than two replies.
* a target is healthy when it answered at least once, its loss is at most
  ``max_loss_pct`` and, when ``max_rtt_ms`` is set, its average RTT is at most that.
* the verdict is healthy when at least ``min_healthy_targets`` targets are healthy.
"""

from __future__ import annotations

import abc
import ipaddress
import re
import socket
from dataclasses import dataclass

from ..errors import ProbeError, ValidationError
from ..validation import is_int, is_number, unique

DEFAULT_COUNT = 3
DEFAULT_INTERVAL = 0.2
DEFAULT_TIMEOUT = 1.0
DEFAULT_MIN_HEALTHY_TARGETS = 1
DEFAULT_MAX_LOSS_PCT = 50.0
# A prober sends this many echoes to each target per round unless told otherwise; the
# monitor daemon's own default is in policy/defaults.py (probe.echoes).
DEFAULT_ECHOES = 1
# The echoes of a round leave back to back, so this bounds the burst each target sees
# every round. On-premises routers police ICMP to their control plane: a burst above
# that allowance is dropped there and would look like loss on Direct Connect. More
# echoes also buy little: losses within one short burst are correlated, so beyond a
# few echoes the chance that all of them are lost hardly falls. Ten leaves room to
# experiment and catches a slip (a 100 for a 10) before it floods the targets.
MAX_ECHOES = 10

_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)%s(?:\.%s)*\.?$" % (_HOST_LABEL, _HOST_LABEL), re.IGNORECASE)
_DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


# --------------------------------------------------------------------------- the interface


class Prober(abc.ABC):
    """Probes a fixed set of targets, one round at a time, until closed.

    Every kind is built the same way, so ``probing.prober_for`` can build any of them::

        ProberClass(targets, source=None, privileged=True, timeout=DEFAULT_TIMEOUT, echoes=DEFAULT_ECHOES)

    ``targets`` are IP addresses, host names or ``ResolvedTarget``; ``source`` is the
    local address to probe from; ``privileged`` says whether the process may open raw
    sockets (a kind that needs none ignores it); ``timeout`` bounds a round in seconds;
    ``echoes`` is how many probes each target gets per round (``echoes_problem`` says
    which numbers are accepted).
    Set-up problems (bad target, no permission) raise ``ProbeError``; a target that does
    not answer is never an exception, only a lost probe. Use it as a context manager or
    call ``close()``.
    """

    @property
    @abc.abstractmethod
    def targets(self):
        """The ``ResolvedTarget`` of every target, in the order results are returned."""

    @abc.abstractmethod
    def round(self, timeout=None):
        """Send the prober's ``echoes`` probes to every target, all at once.

        Returns, per target in target order, the tuple of its ``EchoResult``, one per
        echo in sending order (``echo_rtts_ms_of`` turns that into what the policy reads).
        Returns at the latest ``timeout`` seconds (default: the prober's) after it started.
        """

    @abc.abstractmethod
    def close(self):
        """Release sockets and other resources; the prober cannot be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# --------------------------------------------------------------------------- settings checks


def target_list_problems(targets):
    """Problems of a target list: not a list, empty, entries that are not text, repeats."""
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
    address = parse_ip(target)
    return str(address) if address is not None else target.strip().lower().rstrip(".")


def schedule_problems(count, interval, timeout):
    """Problems of a series of ``count`` probes per target, ``interval`` s apart, each waiting ``timeout`` s."""
    problems = []
    if not is_int(count) or count < 1:
        problems.append("count must be an integer of at least 1, got %r" % (count,))
    if not is_number(interval) or interval < 0:
        problems.append("interval must be a number of seconds >= 0, got %r" % (interval,))
    if not is_number(timeout) or timeout <= 0:
        problems.append("timeout must be a number of seconds > 0, got %r" % (timeout,))
    return problems


def health_limit_problems(max_loss_pct, max_rtt_ms):
    """Problems of the per-target health limits."""
    problems = []
    if not is_number(max_loss_pct) or not 0 <= max_loss_pct <= 100:
        problems.append("max_loss_pct must be a percentage between 0 and 100, got %r" % (max_loss_pct,))
    if max_rtt_ms is not None and (not is_number(max_rtt_ms) or max_rtt_ms <= 0):
        problems.append("max_rtt_ms must be a number of milliseconds > 0 (or unset), got %r" % (max_rtt_ms,))
    return problems


def quorum_exceeds_targets(min_healthy_targets, targets):
    """True when the quorum asks for more healthy targets than are listed, so it could never be met.

    Only an integer quorum and a non-empty list of targets are compared; what is wrong
    with either on its own is each caller's own check.
    """
    return is_int(min_healthy_targets) and isinstance(targets, (list, tuple)) and bool(targets) and min_healthy_targets > len(targets)


def quorum_problems(min_healthy_targets, targets):
    if not is_int(min_healthy_targets):
        return ["min_healthy_targets must be an integer, got %r" % (min_healthy_targets,)]
    if min_healthy_targets < 1:
        return ["min_healthy_targets must be at least 1, got %d" % min_healthy_targets]
    if quorum_exceeds_targets(min_healthy_targets, targets):
        return ["min_healthy_targets is %d but only %d targets are listed; it must be between 1 and %d" % (min_healthy_targets, len(targets), len(targets))]
    return []


def source_problems(source, targets):
    """A source must be an IP address of the same family as every literal target."""
    if source is None:
        return []
    address = parse_ip(source) if isinstance(source, str) else None
    if address is None:
        return ["source %r is not an IP address (give an address of this host, not a name)" % (source,)]
    if not isinstance(targets, (list, tuple)):
        return []
    other_family = unique(target for _index, target in other_family_targets(targets, address.version))
    if other_family:
        return ["source %s is IPv%d but these targets are not: %s; probe each address family separately" % (source, address.version, ", ".join(other_family))]
    return []


def other_family_targets(targets, version):
    """``(index, target)`` of every IP literal in ``targets`` that is not IPv``version`` (4 or 6).

    One source address probes one address family, so such a target could never be probed
    from it. Host names (their family is only known once resolved) and entries that are not
    text (each caller reports those itself) are passed over.
    """
    return [(index, target) for index, target in enumerate(targets) if isinstance(target, str) and ip_version(target) not in (None, version)]


def echoes_problem(echoes):
    """Why ``echoes`` cannot be the number of echoes per target per round (None when it can)."""
    if not is_int(echoes) or not 1 <= echoes <= MAX_ECHOES:
        return "must be an integer from 1 to %d (echoes to each target per round), got %r" % (MAX_ECHOES, echoes)
    return None


def checked_echoes(echoes):
    """Return ``echoes`` when it is a valid number of echoes per round; ValidationError naming ``echoes`` otherwise."""
    problem = echoes_problem(echoes)
    if problem:
        raise ValidationError("echoes: %s" % problem)
    return echoes


def checked_timeout(timeout):
    """Return ``timeout`` when it can bound a round (a finite number > 0); ValidationError otherwise."""
    if not is_number(timeout) or timeout <= 0:
        raise ValidationError("timeout must be a number of seconds > 0, got %r" % (timeout,))
    return timeout


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ResolvedTarget:
    """A target as configured (``target``) and the IP address probed for it."""

    target: str
    address: str
    version: int


def parse_ip(text):
    """The ``ipaddress`` object of an IP literal (surrounding blanks ignored), or None."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def ip_version(text):
    """4 or 6 for an IP literal, None for anything else."""
    address = parse_ip(text)
    return address.version if address is not None else None


def resolve_target(target, version=None):
    """Return the ResolvedTarget for an IP literal or a host name; ProbeError when impossible.

    IP literals are used as they are. A name is resolved once with getaddrinfo (the first
    answer, in the system's preference order); ``version`` (4 or 6) restricts the lookup,
    which is how a configured source address selects the family of the answer.
    """
    text = target.strip()
    address = parse_ip(text)
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
    """The outcome of one probe (an ICMP echo for that kind): an RTT when answered, else why it counts as lost."""

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
    """Statistics of the probes sent to one target."""

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


def echo_rtts_ms_of(round_results):
    """A ``Prober.round`` result as the policy reads a round: per target, the RTT of each echo (None when lost)."""
    return [[echo.rtt_ms for echo in echoes] for echoes in round_results]


def loss_percentage(sent, received):
    """Percentage of ``sent`` probes without a reply; 100 when nothing was sent."""
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
    """Build TargetStats from the RTTs (ms, in sending order) of the probes that were answered."""
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
