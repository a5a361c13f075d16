# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fhrp role's route watcher (roles/fhrp/files/lz-fhrp-dx-watch), loaded from its file.

Route messages are built here byte by byte as the kernel lays them out, so the parser is
checked against the wire format rather than against itself; the sockets are fakes except
in the one test that dumps this machine's own table (read-only).
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import ipaddress
import os
import signal
import socket
import struct

import pytest

from harness.paths import REPO_ROOT

WATCH_PATH = os.path.join(REPO_ROOT, "roles", "fhrp", "files", "lz-fhrp-dx-watch")


def load_watcher():
    loader = importlib.machinery.SourceFileLoader("lz_fhrp_dx_watch", WATCH_PATH)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


dxw = load_watcher()
VPC = ipaddress.ip_network("198.18.0.0/16")
LAN = ipaddress.ip_network("198.19.0.0/24")
V6 = ipaddress.ip_network("2001:db8:5::/48")
BIRD = 12


def attribute(kind, value):
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + bytes((4 - length % 4) % 4)


def route_body(prefix, protocol=BIRD, table=254, route_type=1, table_attribute=None):
    """An rtmsg plus attributes, as the kernel sends it for ``prefix``."""
    network = ipaddress.ip_network(prefix)
    family = socket.AF_INET if network.version == 4 else socket.AF_INET6
    body = struct.pack("=BBBBBBBBI", family, network.prefixlen, 0, 0, min(table, 252) if table_attribute else table, protocol, 0, route_type, 0)
    if network.prefixlen:
        body += attribute(1, network.network_address.packed)
    if table_attribute:
        body += attribute(15, struct.pack("=I", table_attribute))
    return body


def message(kind, body=b"", flags=0, sequence=1):
    length = 16 + len(body)
    return struct.pack("=IHHII", length, kind, flags, sequence, 0) + body + bytes((4 - length % 4) % 4)


def done(flags=0x2):
    return message(3, struct.pack("=i", 0), flags)


class FakeDumpSocket:
    """Answers each dump request with the next prepared list of datagrams."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.pending = []
        self.sent = []

    def send(self, data):
        self.sent.append(data)
        self.pending = list(self.answers.pop(0))

    def recv_into(self, buffer):
        item = self.pending.pop(0)
        if isinstance(item, Exception):
            raise item
        buffer[:len(item)] = item
        return len(item)


def table_with_dumps(*answers):
    table = dxw.RouteTable()
    table._dumps = FakeDumpSocket(answers)  # pylint: disable=protected-access
    return table


# --------------------------------------------------------------------------- parsing


def key(prefix):
    return dxw.prefix_key(ipaddress.ip_network(prefix))


def test_a_main_table_unicast_route_of_the_protocol_gives_its_prefix_key():
    assert dxw.matching_route_key(route_body("198.18.0.0/16"), BIRD) == (socket.AF_INET, 16, bytes((198, 18, 0, 0)))
    assert dxw.matching_route_key(route_body("2001:db8:5::/48"), BIRD) == key("2001:db8:5::/48")


def test_a_default_route_has_no_destination_attribute():
    assert dxw.matching_route_key(route_body("0.0.0.0/0"), BIRD) == key("0.0.0.0/0")


def test_other_protocols_tables_types_and_families_are_skipped_from_the_header():
    assert dxw.matching_route_key(route_body("198.19.0.0/24", protocol=4), BIRD) is None
    assert dxw.matching_route_key(route_body("2001:db8:5::/48", table_attribute=1000), BIRD) is None
    assert dxw.matching_route_key(route_body("198.18.0.0/16", table=100), BIRD) is None
    assert dxw.matching_route_key(route_body("198.18.9.0/24", route_type=6), BIRD) is None  # blackhole
    assert dxw.matching_route_key(struct.pack("=BBBBBBBBI", 7, 0, 0, 0, 254, 12, 0, 1, 0), BIRD) is None
    # Skipped before the attributes are read: a broken attribute of another protocol's route does not matter.
    assert dxw.matching_route_key(route_body("198.19.0.0/24", protocol=4)[:12] + struct.pack("=HH", 2, 1), BIRD) is None


def test_a_short_message_or_a_broken_attribute_is_an_error():
    with pytest.raises(dxw.RoutingStateError, match="too short"):
        dxw.matching_route_key(b"\x02\x10", BIRD)
    with pytest.raises(dxw.RoutingStateError, match="malformed route attribute"):
        dxw.matching_route_key(route_body("198.18.0.0/16")[:12] + struct.pack("=HH", 2, 1), BIRD)


def test_several_messages_in_one_datagram_are_split_on_their_aligned_lengths():
    data = message(24, route_body("198.18.0.0/16")) + message(24, route_body("2001:db8:5::/48")) + done()
    kinds = [(kind, flags) for kind, flags, _payload in dxw.netlink_messages(data)]
    assert kinds == [(24, 0), (24, 0), (3, 2)]


def test_protocol_names_and_numbers():
    assert dxw.protocol_number("bird") == 12
    assert dxw.protocol_number("186") == 186
    with pytest.raises(ValueError, match="unknown route protocol 'gated'"):
        dxw.protocol_number("gated")
    with pytest.raises(ValueError):
        dxw.protocol_number("256")


# --------------------------------------------------------------------------- verdict


def test_healthy_only_when_every_prefix_is_installed():
    assert dxw.verdict([VPC, V6], {VPC, V6, LAN}) == dxw.Verdict("0", (VPC, V6), (), None)
    assert dxw.verdict([VPC, V6, LAN], {V6}) == dxw.Verdict("1", (VPC, V6, LAN), (VPC, LAN), None)


def test_a_more_specific_or_covering_route_is_not_the_prefix():
    assert dxw.verdict([VPC], {ipaddress.ip_network("198.18.0.0/17"), ipaddress.ip_network("198.16.0.0/14")}).state == "1"


def test_the_journal_line_names_what_left_and_what_came_back():
    healthy = dxw.verdict([VPC, V6], {VPC, V6})
    lost_vpc = dxw.verdict([VPC, V6], {V6})
    assert dxw.change_message(healthy, lost_vpc, "bird") == (
        "DX FAULT: not in the main table as a bird route: 198.18.0.0/16 (left: 198.18.0.0/16)")
    assert dxw.change_message(lost_vpc, healthy, "bird") == (
        "DX healthy: 198.18.0.0/16, 2001:db8:5::/48 in the main table as bird routes (came back: 198.18.0.0/16)")
    assert dxw.change_message(healthy, healthy, "bird") is None
    assert dxw.change_message(dxw.UNKNOWN, lost_vpc, "bird") == "DX FAULT: not in the main table as a bird route: 198.18.0.0/16"
    unreadable = dxw.unreadable([VPC], "netlink socket: [Errno 97] Address family not supported by protocol")
    assert dxw.change_message(healthy, unreadable, "bird") == (
        "DX FAULT: cannot read the routing table (netlink socket: [Errno 97] Address family not supported by protocol); retrying every 1 s")


# --------------------------------------------------------------------------- dumps and events


def test_a_dump_collects_the_matching_routes_of_the_family_until_done():
    table = table_with_dumps([message(24, route_body("198.18.0.0/16"), 0x2) + message(24, route_body("198.19.0.0/24", protocol=4), 0x2), done()])
    assert table.matching_keys([socket.AF_INET], BIRD) == {key("198.18.0.0/16")}
    kind, flags, body = next(dxw.netlink_messages(table._dumps.sent[0]))  # pylint: disable=protected-access
    assert (kind, flags, body[0]) == (26, 0x301, socket.AF_INET)


def test_only_the_watched_families_are_dumped():
    table = table_with_dumps([done()], [done()])
    table.matching_keys([socket.AF_INET, socket.AF_INET6], BIRD)
    families = [next(dxw.netlink_messages(sent))[2][0] for sent in table._dumps.sent]  # pylint: disable=protected-access
    assert families == [socket.AF_INET, socket.AF_INET6]


def test_a_dump_interrupted_by_a_change_is_repeated_after_the_events_are_drained(monkeypatch):
    pauses = []
    monkeypatch.setattr(dxw.time, "sleep", pauses.append)
    interrupted = [message(24, route_body("198.19.0.0/24"), 0x12), done(0x12)]
    complete = [message(24, route_body("198.18.0.0/16"), 0x2), done()]
    table = table_with_dumps(interrupted, interrupted, complete)
    table.events = FakeEventSocket([message(24, route_body("198.19.0.0/24"))])
    assert table.matching_keys([socket.AF_INET], BIRD) == {key("198.18.0.0/16")}
    assert table.events.items == [] and pauses == [dxw.DUMP_BACKOFF_SECONDS, 2 * dxw.DUMP_BACKOFF_SECONDS]


def test_a_dump_interrupted_every_time_is_an_error(monkeypatch):
    monkeypatch.setattr(dxw.time, "sleep", lambda _seconds: None)
    interrupted = [message(24, route_body("198.19.0.0/24"), 0x12), done(0x12)]
    table = table_with_dumps(*[interrupted] * dxw.DUMP_ATTEMPTS)
    with pytest.raises(dxw.RoutingStateError, match="interrupted by changes 5 times"):
        table.matching_keys([socket.AF_INET], BIRD)


def test_a_refused_dump_or_a_socket_error_is_a_routing_state_error():
    with pytest.raises(dxw.RoutingStateError, match="route dump refused: Operation not permitted"):
        table_with_dumps([message(2, struct.pack("=i", -errno.EPERM) + bytes(16))]).matching_keys([socket.AF_INET], BIRD)
    with pytest.raises(dxw.RoutingStateError, match="route dump: .*Connection reset"):
        table_with_dumps([OSError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))]).matching_keys([socket.AF_INET], BIRD)


class FakeEventSocket:
    def __init__(self, items):
        self.items = list(items)

    def recv_into(self, buffer):
        if not self.items:
            raise BlockingIOError()
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        buffer[:len(item)] = item
        return len(item)


def test_draining_reads_until_the_queue_is_empty_and_passes_over_lost_events():
    table = dxw.RouteTable()
    table.events = FakeEventSocket([message(24, route_body("198.18.0.0/16")), OSError(errno.ENOBUFS, "No buffer space available"),
                                    message(16, bytes(16))])
    table.drain_events()
    assert table.events.items == []
    table.events = FakeEventSocket([OSError(errno.EBADF, "Bad file descriptor")])
    with pytest.raises(dxw.RoutingStateError, match="netlink events"):
        table.drain_events()


def test_the_event_socket_joins_the_link_and_address_groups(monkeypatch):
    bound = []

    class RecordingSocket:
        def __init__(self, *_args):
            pass

        def setsockopt(self, *_args):
            pass

        def bind(self, address):
            bound.append(address)

        def setblocking(self, _flag):
            pass

        def settimeout(self, _seconds):
            pass

        def close(self):
            pass

    table = dxw.RouteTable(socket_factory=RecordingSocket)
    table.open()
    groups = bound[0][1]
    # RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, and both route groups.
    assert groups & 0x1 and groups & 0x10 and groups & 0x100 and groups & 0x40 and groups & 0x400
    assert bound[1] == (0, 0)


def test_this_machines_table_can_be_dumped():
    table = dxw.RouteTable()
    table.open()
    try:
        keys = table.matching_keys([socket.AF_INET, socket.AF_INET6], 2)
    finally:
        table.close()
    assert isinstance(keys, set) and all(family in (socket.AF_INET, socket.AF_INET6) for family, _length, _dst in keys)


class ScriptedTable(dxw.RouteTable):
    """The real event draining; each dump answers with the next set of route keys."""

    def __init__(self, dumps, events):
        super().__init__()
        self.dumps = list(dumps)
        self.events = FakeEventSocket(events)
        self.queries = []

    def matching_keys(self, families, protocol):
        self.queries.append((tuple(families), protocol))
        return self.dumps.pop(0)


class FakeSelect:
    """select() that says "readable" while events are queued and "timeout" otherwise."""

    def __init__(self, table):
        self.table = table
        self.calls = 0

    def __call__(self, readers, _writers, _errors, timeout):
        self.calls += 1
        assert timeout == dxw.RETRY_SECONDS
        return (readers if self.table.events.items else []), [], []


class RecordingNotifier:
    def __init__(self):
        self.states = []

    def notify(self, state):
        self.states.append(state)


def followed(tmp_path, monkeypatch, dumps, events, rounds):
    table = ScriptedTable(dumps, events)
    monkeypatch.setattr(dxw.select, "select", FakeSelect(table))
    notifier = RecordingNotifier()
    watcher = dxw.Watcher(str(tmp_path / "dx-routes"), [VPC], BIRD, "bird", table=table, notifier=notifier)
    assert watcher.evaluate()
    watcher.follow_events(stop_after(rounds))
    return watcher, table, notifier


def test_a_link_event_makes_the_watcher_read_the_table_again(tmp_path, monkeypatch, capsys):
    # The route left with its interface: the only event is RTM_NEWLINK (16), no RTM_DELROUTE.
    link_down = message(16, bytes(16))
    watcher, table, _notifier = followed(tmp_path, monkeypatch, [{key("198.18.0.0/16")}, set()], [link_down], 1)
    assert read(watcher.track_file) == "1\n" and table.events.items == []
    assert table.queries == [((socket.AF_INET,), BIRD)] * 2
    assert "DX FAULT: not in the main table as a bird route: 198.18.0.0/16 (left: 198.18.0.0/16)" in capsys.readouterr().out


def test_a_second_without_events_reads_the_table_again(tmp_path, monkeypatch):
    watcher, table, _notifier = followed(tmp_path, monkeypatch, [{key("198.18.0.0/16")}, {key("198.18.0.0/16")}, set()], [], 2)
    assert read(watcher.track_file) == "1\n" and table.dumps == []


def test_systemd_hears_ready_once_and_a_watchdog_ping_every_round(tmp_path, monkeypatch):
    _watcher, _table, notifier = followed(tmp_path, monkeypatch, [set(), set(), set(), set()], [], 3)
    assert notifier.states == ["READY=1"] + ["WATCHDOG=1"] * 3


def test_the_notifier_sends_datagrams_to_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(path)
        dxw.SystemdNotifier(address=path).notify("WATCHDOG=1")
        assert receiver.recv(64) == b"WATCHDOG=1"
    dxw.SystemdNotifier(address="").notify("READY=1")  # outside systemd: nothing to do, no error


def test_a_notify_socket_that_is_gone_is_logged_not_fatal(tmp_path, capsys):
    dxw.SystemdNotifier(address=str(tmp_path / "gone")).notify("WATCHDOG=1")
    assert "cannot notify systemd (WATCHDOG=1)" in capsys.readouterr().out


# --------------------------------------------------------------------------- fail closed


class BrokenTable:
    """A table whose sockets open but whose dump fails, as when netlink is refused."""

    events = None

    def open(self):
        pass

    def close(self):
        pass

    def matching_keys(self, _families, _protocol):
        raise dxw.RoutingStateError("route dump: [Errno 13] Permission denied")


def stop_after(calls):
    count = [0]

    def stop():
        count[0] += 1
        return count[0] > calls

    return stop


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_a_table_that_cannot_be_read_writes_fault_and_says_why(tmp_path, monkeypatch, capsys):
    track = str(tmp_path / "dx-routes")
    dxw.write_track_file(track, dxw.HEALTHY)
    monkeypatch.setattr(dxw.time, "sleep", lambda _seconds: None)
    watcher = dxw.Watcher(track, [VPC], BIRD, "bird", table=BrokenTable())
    watcher.run(stop_after(3))
    assert read(track) == "1\n"
    assert "DX FAULT: cannot read the routing table (route dump: [Errno 13] Permission denied)" in capsys.readouterr().out


def test_a_netlink_socket_that_cannot_be_made_writes_fault(tmp_path, monkeypatch, capsys):
    def refuse(*_args):
        raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))

    track = str(tmp_path / "dx-routes")
    monkeypatch.setattr(dxw.time, "sleep", lambda _seconds: None)
    watcher = dxw.Watcher(track, [VPC], BIRD, "bird", table=dxw.RouteTable(socket_factory=refuse))
    watcher.run(stop_after(2))
    assert read(track) == "1\n"
    out = capsys.readouterr().out
    assert "netlink socket: [Errno 97] Address family not supported by protocol" in out
    # Retried without logging the same failure again.
    assert out.count("DX FAULT") == 1


def test_the_track_file_is_replaced_by_a_rename(tmp_path):
    track = str(tmp_path / "dx-routes")
    dxw.write_track_file(track, dxw.FAULT)
    inode = os.stat(track).st_ino
    dxw.write_track_file(track, dxw.HEALTHY)
    assert read(track) == "0\n" and os.stat(track).st_ino != inode
    assert os.listdir(str(tmp_path)) == ["dx-routes"]


@pytest.fixture
def restore_signals():
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


class SignalledWatcher:
    """Healthy, then SIGTERM arrives while it waits for events."""

    def __init__(self, track_file):
        self.track_file = track_file

    def run(self, _stop):
        dxw.write_track_file(self.track_file, dxw.HEALTHY)
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the watcher")


def test_sigterm_leaves_fault_behind(tmp_path, capsys, restore_signals):  # pylint: disable=redefined-outer-name,unused-argument
    track = str(tmp_path / "dx-routes")
    assert dxw.watch_until_stopped(SignalledWatcher(track)) == 0
    assert read(track) == "1\n"
    assert "DX FAULT: stopped by signal 15" in capsys.readouterr().out


def test_write_fault_mode_only_writes_fault(tmp_path, capsys):
    track = str(tmp_path / "dx-routes")
    dxw.write_track_file(track, dxw.HEALTHY)
    assert dxw.main(["--write-fault", "the service stopped (signal, killed KILL)", "--track-file", track]) == 0
    assert read(track) == "1\n"
    assert "DX FAULT: the service stopped (signal, killed KILL)" in capsys.readouterr().out


def test_bad_arguments_are_refused(capsys):
    for argv in (["--track-file", "/x", "198.18.0.1/16"], ["--track-file", "/x", "--protocol", "gated", "198.18.0.0/16"], ["--track-file", "/x"]):
        with pytest.raises(SystemExit):
            dxw.parse_arguments(argv)
    assert "host bits set" in capsys.readouterr().err


def test_no_process_events_is_reported_with_the_reason():
    def refused(*_args):
        raise OSError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))

    assert dxw.probe_process_events(refused) == "process events connector: [Errno 111] Connection refused"


def test_the_process_events_subscription_is_a_connector_message():
    kind, _flags, body = next(dxw.netlink_messages(dxw.process_events_request(dxw.PROC_CN_MCAST_LISTEN)))
    assert kind == 3 and struct.unpack("=IIIIHHI", body) == (1, 1, 0, 0, 4, 0, 1)


# --------------------------------------------------------------------------- the role's copies of the watcher's values


def role_vars():
    import yaml  # pylint: disable=import-outside-toplevel

    with open(os.path.join(REPO_ROOT, "roles", "fhrp", "vars", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_roles_fault_value_is_the_watchers():
    # keepalived's init_file and the watcher's verdict must mean the same FAULT.
    assert str(role_vars()["__fhrp_watch_fault_value"]) == dxw.FAULT


def test_the_route_protocols_the_role_accepts_are_the_ones_the_watcher_knows():
    assert sorted(role_vars()["__fhrp_route_protocols"]) == sorted(dxw.PROTOCOLS)


def test_the_watchdog_gives_the_one_second_loop_room_for_two_missed_pings():
    assert role_vars()["__fhrp_watch_watchdog_s"] >= 3 * dxw.RETRY_SECONDS
