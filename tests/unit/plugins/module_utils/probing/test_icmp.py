# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ICMP kind (probing/icmp.py): settings, socket set-up, reply matching, the one-shot probe.

No packet leaves the process: the reply-matching tests use a fake ICMP socket backed by
a local socketpair. Those tests run on a simulated clock (``ProbeClock``): a wait for
replies that do not come advances it instead of sleeping, so timeouts and intervals are
checked exactly and a slow machine cannot make them pass or fail.
"""

from __future__ import annotations

import collections
import math
import selectors
import socket
import subprocess
import sys
import time
import types

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import ProbeError, ValidationError
from ansible_collections.localzones.failover.plugins.module_utils import probing
from ansible_collections.localzones.failover.plugins.module_utils.probing import icmp
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import round_passes
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import ResolvedTarget
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import echo_rtts_ms_of

from harness.paths import COLLECTIONS_ROOT
from tests.support.fake_clock import FakeClock

icmplib = pytest.importorskip("icmplib")


# --------------------------------------------------------------------------- settings


def test_defaults_are_valid():
    settings = icmp.ProbeSettings(targets=("198.18.1.1",))
    assert settings.validate() is settings
    assert (settings.count, settings.interval, settings.timeout, settings.privileged) == (3, 0.2, 1.0, True)
    assert (settings.min_healthy_targets, settings.max_loss_pct, settings.max_rtt_ms) == (1, 50.0, None)


def test_every_problem_is_reported_at_once():
    settings = icmp.ProbeSettings(
        targets=("198.18.1.1", "198.18.1.1"),
        count=0,
        interval=-1,
        timeout=0,
        min_healthy_targets=3,
        max_loss_pct=101,
        max_rtt_ms=0,
        source="not-an-ip",
    )
    with pytest.raises(ValidationError) as caught:
        settings.validate()
    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 8, text
    for fragment in ("listed more than once", "count", "interval", "timeout", "min_healthy_targets", "max_loss_pct", "max_rtt_ms", "not-an-ip"):
        assert fragment in text


@pytest.mark.parametrize("targets", [(), [], "198.18.1.1", None])
def test_targets_must_be_a_non_empty_list(targets):
    with pytest.raises(ValidationError, match="targets"):
        icmp.ProbeSettings(targets=targets).validate()


def test_duplicate_detection_normalizes_addresses_and_names():
    problems = icmp.ProbeSettings(targets=("2001:DB8::1", "2001:db8:0::1", "Router.Lab", "router.lab.")).problems()
    assert problems == ["targets: 2001:db8:0::1 is listed more than once", "targets: router.lab. is listed more than once"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", True), ("count", 2.5), ("timeout", math.nan), ("interval", "0.2"), ("max_loss_pct", -0.1), ("min_healthy_targets", 0), ("privileged", "yes")],
)
def test_wrong_types_and_ranges_are_rejected(field, value):
    settings = icmp.ProbeSettings(targets=("198.18.1.1",), **{field: value})
    problems = settings.problems()
    assert len(problems) == 1 and field in problems[0]


def test_zero_interval_and_full_loss_budget_are_allowed():
    icmp.ProbeSettings(targets=("198.18.1.1",), interval=0, max_loss_pct=100).validate()


def test_quorum_cannot_exceed_the_number_of_targets():
    with pytest.raises(ValidationError, match="only 2 targets"):
        icmp.ProbeSettings(targets=("198.18.1.1", "198.18.1.2"), min_healthy_targets=3).validate()


def test_source_must_match_the_family_of_literal_targets():
    with pytest.raises(ValidationError) as caught:
        icmp.ProbeSettings(targets=("198.18.1.1", "2001:db8:1::1", "router.lab"), source="198.18.0.1").validate()
    assert caught.value.problems == ["source 198.18.0.1 is IPv4 but these targets are not: 2001:db8:1::1; probe each address family separately"]
    icmp.ProbeSettings(targets=("2001:db8:1::1", "router.lab"), source="2001:db8::1").validate()


def test_invalid_settings_fail_before_any_socket_is_opened(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("no socket may be opened for invalid settings")

    monkeypatch.setattr(icmp, "open_icmp_socket", refuse)
    with pytest.raises(ValidationError):
        icmp.run_probe(icmp.ProbeSettings(targets=("198.18.1.1",), count=0))


# --------------------------------------------------------------------------- socket errors


@pytest.mark.parametrize(
    ("error", "privileged", "fragments"),
    [
        (lambda: icmplib.SocketPermissionError(True), True, ["CAP_NET_RAW", "become", "privileged: false"]),
        (lambda: icmplib.SocketPermissionError(False), False, ["net.ipv4.ping_group_range", "sysctl -w", "privileged: true"]),
        (lambda: icmplib.SocketAddressError("198.18.0.99"), True, ["source address 198.18.0.99 cannot be used", "not assigned"]),
        (lambda: icmplib.ICMPSocketError("boom"), True, ["cannot open an ICMPv4 socket bound to 198.18.0.99: boom"]),
    ],
)
def test_socket_setup_failures_become_actionable_probe_errors(monkeypatch, error, privileged, fragments):
    def failing_socket(address=None, privileged=True):  # pylint: disable=unused-argument
        raise error()

    monkeypatch.setattr(icmplib, "ICMPv4Socket", failing_socket)
    with pytest.raises(ProbeError) as caught:
        icmp.open_icmp_socket(4, "198.18.0.99", privileged)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_module_utils_import_without_icmplib():
    """ansible-test imports module_utils without third-party packages: it must load and explain."""
    code = (
        "import sys; sys.modules['icmplib'] = None\n"
        "from ansible_collections.localzones.failover.plugins.module_utils.probing import icmp\n"
        "assert icmp.HAS_ICMPLIB is False and icmp.ICMPLIB_IMPORT_TRACEBACK\n"
        "try:\n"
        "    icmp.IcmpProber(['198.18.1.1'])\n"
        "except icmp.ProbeError as exc:\n"
        "    print(exc.message)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": COLLECTIONS_ROOT}, check=True, timeout=60)
    assert "icmplib is required" in completed.stdout


# --------------------------------------------------------------------------- reply matching (fake socket)


class FakeIcmpSocket:
    """Stands in for an icmplib socket: a socketpair makes the selector see 'data ready'."""

    def __init__(self, version, responder):
        self.version = version
        self.sock, self._wakeup = socket.socketpair()
        self._responder = responder
        self._inbox = collections.deque()
        self.sent = []

    def send(self, request):
        self.sent.append(request)
        for reply in self._responder(self, request):
            self.deliver(reply)

    def deliver(self, reply):
        self._inbox.append(reply)
        self._wakeup.send(b"!")

    def receive(self, request=None, timeout=2):  # pylint: disable=unused-argument
        self.sock.recv(1)
        return self._inbox.popleft()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self._wakeup.close()
            self.sock = None


def _reply(request, source, identifier, icmp_type=0, code=0, family=4):
    return icmplib.ICMPReply(
        source=source, family=family, id=identifier, sequence=request.sequence, type=icmp_type, code=code, bytes_received=64, time=time.time()
    )


class ProbeClock(FakeClock):
    """The simulated clock for icmp.py; ``selector()`` makes selectors that use it.

    Fake sockets deliver replies synchronously on send, so a select that finds nothing
    ready would only ever time out: it advances the clock by its timeout at once.
    """

    def __init__(self):
        super().__init__(start=1000.0)

    def selector(self):
        return ClockedSelector(self)


class ClockedSelector:
    """A real selector polled without blocking; an empty poll is a timeout on the ProbeClock."""

    def __init__(self, clock):
        self._clock = clock
        self._real = selectors.DefaultSelector()

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def close(self):
        self._real.close()

    def select(self, timeout=None):
        ready = self._real.select(0)
        if not ready:
            self._clock.advance(timeout)
        return ready


@pytest.fixture
def fake_sockets(monkeypatch):
    """Make Prober use FakeIcmpSocket on a ProbeClock; tests set ``behaviour(fake, request, identifier)``."""
    clock = ProbeClock()
    monkeypatch.setattr(icmp, "time", types.SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep))
    monkeypatch.setattr(icmp, "selectors", types.SimpleNamespace(DefaultSelector=clock.selector, EVENT_READ=selectors.EVENT_READ))
    state = {"behaviour": lambda fake, request, identifier: [], "sockets": [], "identifier": None, "clock": clock}

    def responder(fake, request):
        return state["behaviour"](fake, request, state["identifier"])

    def open_fake(version, source=None, privileged=True):  # pylint: disable=unused-argument
        fake = FakeIcmpSocket(version, responder)
        state["sockets"].append(fake)
        return fake

    monkeypatch.setattr(icmp, "open_icmp_socket", open_fake)
    monkeypatch.setattr(icmp.random, "randrange", lambda *_args: 4242)
    state["identifier"] = 4242
    yield state
    for fake in state["sockets"]:
        fake.close()


def test_round_matches_replies_by_identifier_sequence_and_source(fake_sockets):
    def behaviour(_fake, request, identifier):
        if request.destination == "198.18.1.1":
            return [_reply(request, "198.18.1.1", identifier)]
        if request.destination == "198.18.1.2":
            # Foreign traffic a raw socket also sees: another program's id, and a reply
            # with our id and sequence but from a different host.
            return [_reply(request, "198.18.1.2", identifier + 1), _reply(request, "198.18.1.9", identifier)]
        return []

    fake_sockets["behaviour"] = behaviour
    with icmp.IcmpProber(["198.18.1.1", "198.18.1.2"], timeout=0.2) as prober:
        (first,), (second,) = prober.round()
    assert [first.address, second.address] == ["198.18.1.1", "198.18.1.2"]
    assert first.received and first.rtt_ms == 0.0
    assert not second.received and second.error == "timeout: no reply within 0.2 s"


def test_icmp_error_quoting_our_request_ends_the_echo_early(fake_sockets):
    fake_sockets["behaviour"] = lambda _fake, request, identifier: [_reply(request, "198.18.0.254", identifier, icmp_type=3, code=1)]
    clock = fake_sockets["clock"]
    with icmp.IcmpProber(["198.18.1.1"], timeout=5.0) as prober:
        started = clock.now
        ((result,),) = prober.round()
    assert not result.received
    assert result.error == "destination unreachable from 198.18.0.254: Destination host unreachable"
    assert clock.now == started, "the round ended on the error, without waiting for the 5 s timeout"


def test_a_refused_send_is_a_lost_echo_not_an_exception(fake_sockets):
    def behaviour(_fake, request, _identifier):
        raise icmplib.ICMPSocketError("[Errno 101] Network is unreachable")

    fake_sockets["behaviour"] = behaviour
    clock = fake_sockets["clock"]
    with icmp.IcmpProber(["198.18.1.1"], timeout=5.0) as prober:
        started = clock.now
        ((result,),) = prober.round()
    assert result.error == "not sent: [Errno 101] Network is unreachable"
    assert clock.now == started, "nothing to wait for once the send was refused"


def test_late_reply_from_an_earlier_round_is_not_counted(fake_sockets):
    held = []

    def behaviour(_fake, request, identifier):
        held.append(_reply(request, "198.18.1.1", identifier))
        return []

    fake_sockets["behaviour"] = behaviour
    with icmp.IcmpProber(["198.18.1.1"], timeout=0.05) as prober:
        assert not prober.round()[0][0].received
        fake_sockets["behaviour"] = lambda fake, request, identifier: [held[0]]  # only the stale reply arrives
        assert not prober.round()[0][0].received
        sequences = [request.sequence for request in fake_sockets["sockets"][0].sent]
    assert sequences[1] == (sequences[0] + 1) & 0xFFFF


def echo_back(fake, request, identifier):
    return [_reply(request, request.destination, identifier, 0 if fake.version == 4 else 129, family=fake.version)]


def test_sockets_are_opened_once_per_family_and_reused(fake_sockets):
    fake_sockets["behaviour"] = echo_back
    with icmp.IcmpProber(["198.18.1.1", "198.18.1.2", "2001:db8:1::1"], timeout=0.5) as prober:
        for _round in range(5):
            assert all(result.received for echoes in prober.round() for result in echoes)
    assert sorted(fake.version for fake in fake_sockets["sockets"]) == [4, 6]
    assert [len(fake.sent) for fake in sorted(fake_sockets["sockets"], key=lambda fake: fake.version)] == [10, 5]


def test_a_round_sends_every_target_its_echoes_back_to_back_each_with_its_own_sequence(fake_sockets):
    fake_sockets["behaviour"] = echo_back
    clock = fake_sockets["clock"]
    with icmp.IcmpProber(["198.18.1.1", "198.18.1.2", "2001:db8:1::1"], timeout=0.1, echoes=3) as prober:
        started = clock.now
        results = prober.round()
    assert [len(echoes) for echoes in results] == [3, 3, 3]
    assert all(echo.received and echo.sent_at == started for echoes in results for echo in echoes), "all sent at the round's start"
    requests = {fake.version: fake.sent for fake in fake_sockets["sockets"]}
    assert [request.destination for request in requests[4]] == ["198.18.1.1", "198.18.1.2"] * 3
    assert len({request.sequence for request in requests[4]}) == 6 and len(requests[6]) == 3
    assert [echo.sequence for echo in results[1]] == [request.sequence for request in requests[4] if request.destination == "198.18.1.2"]


def test_a_target_answers_in_a_round_when_any_of_its_echoes_is_answered(fake_sockets):
    requests = collections.Counter()

    def second_echo_only(_fake, request, identifier):
        requests[request.destination] += 1
        return [_reply(request, request.destination, identifier)] if request.destination == "198.18.1.1" and requests[request.destination] == 2 else []

    fake_sockets["behaviour"] = second_echo_only
    with icmp.IcmpProber(["198.18.1.1", "198.18.1.2"], timeout=0.1, echoes=2) as prober:
        answered_once, silent = prober.round()
    assert [echo.received for echo in answered_once] == [False, True] and [echo.received for echo in silent] == [False, False]
    assert answered_once[0].error == "timeout: no reply within 0.1 s"
    rtts = echo_rtts_ms_of([answered_once, silent])
    assert rtts == [[None, 0.0], [None, None]]
    assert round_passes(rtts, 1) and not round_passes(rtts, 2), "one echo of two answered: the target answered, the other did not"


def test_a_rounds_echoes_come_back_in_sending_order_across_the_sequence_wrap(fake_sockets):
    def all_but_the_first(_fake, request, identifier):
        return [] if request.sequence == 0xFFFF else [_reply(request, request.destination, identifier)]

    fake_sockets["behaviour"] = all_but_the_first
    with icmp.IcmpProber(["198.18.1.1"], timeout=0.1, echoes=3) as prober:
        prober._next_sequence[4] = 0xFFFF  # pylint: disable=protected-access
        ((lost, second, third),) = prober.round()
    assert [lost.sequence, second.sequence, third.sequence] == [0xFFFF, 0, 1]
    assert not lost.received and second.received and third.received, "answered echoes settle first, yet the order is the sending order"


@pytest.mark.parametrize("echoes", [0, 11, 2.5, True, "2"])
def test_the_prober_refuses_echoes_outside_one_to_ten(fake_sockets, echoes):
    with pytest.raises(ValidationError) as caught:
        icmp.IcmpProber(["198.18.1.1"], timeout=0.1, echoes=echoes)
    assert caught.value.problems == ["echoes: must be an integer from 1 to 10 (echoes to each target per round), got %r" % (echoes,)]
    assert fake_sockets["sockets"] == [], "refused before any socket is opened"


def test_series_overlaps_echoes_so_dead_targets_cost_one_timeout(fake_sockets):
    fake_sockets["behaviour"] = lambda fake, request, identifier: []
    clock = fake_sockets["clock"]
    with icmp.IcmpProber(["198.18.1.1", "198.18.1.2"], timeout=0.2) as prober:
        started = clock.now
        echoes = prober.series(count=4, interval=0.05)
    assert [len(target_echoes) for target_echoes in echoes] == [4, 4]
    assert all(echo.error == "timeout: no reply within 0.2 s" for target_echoes in echoes for echo in target_echoes)
    assert [echo.sent_at - started for echo in echoes[0]] == pytest.approx([0.0, 0.05, 0.1, 0.15])
    assert clock.now - started == pytest.approx(3 * 0.05 + 0.2), "3 intervals + one timeout, not 4 timeouts"


def test_prober_close_is_idempotent(fake_sockets):  # pylint: disable=unused-argument
    prober = icmp.IcmpProber(["198.18.1.1"], timeout=0.1)
    prober.close()
    prober.close()


@pytest.mark.parametrize("timeout", [0, -1, math.inf, "1"])
def test_prober_rejects_a_timeout_that_would_not_bound_a_round(fake_sockets, timeout):  # pylint: disable=unused-argument
    with pytest.raises(ValidationError, match="timeout must be"):
        icmp.IcmpProber(["198.18.1.1"], timeout=timeout)
    with icmp.IcmpProber(["198.18.1.1"], timeout=0.1) as prober:
        with pytest.raises(ValidationError, match="timeout must be"):
            prober.round(timeout=timeout)


def test_series_rejects_invalid_count_and_interval(fake_sockets):  # pylint: disable=unused-argument
    with icmp.IcmpProber(["198.18.1.1"], timeout=0.1) as prober:
        with pytest.raises(ValidationError) as caught:
            prober.series(count=0, interval=-1)
    assert len(caught.value.problems) == 2


def test_prober_for_icmp_builds_the_icmp_prober(fake_sockets):
    with probing.prober_for("icmp", ["198.18.1.1", "2001:db8:1::1"], privileged=False, timeout=0.1, echoes=2) as prober:
        assert isinstance(prober, icmp.IcmpProber) and prober.echoes == 2
        assert prober.targets == (ResolvedTarget("198.18.1.1", "198.18.1.1", 4), ResolvedTarget("2001:db8:1::1", "2001:db8:1::1", 6))
        assert prober.privileged is False
    assert [fake.version for fake in fake_sockets["sockets"]] == [4, 6]
