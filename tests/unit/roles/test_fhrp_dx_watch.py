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

    def recv(self, _size):
        item = self.pending.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def table_with_dumps(*answers):
    table = dxw.RouteTable()
    table._dumps = FakeDumpSocket(answers)  # pylint: disable=protected-access
    return table


# --------------------------------------------------------------------------- parsing


def test_an_ipv4_route_message_gives_prefix_protocol_table_and_type():
    assert dxw.parse_route(route_body("198.18.0.0/16")) == (VPC, BIRD, 254, 1)


def test_an_ipv6_route_and_a_table_above_255_come_from_their_attributes():
    assert dxw.parse_route(route_body("2001:db8:5::/48", protocol=4, table_attribute=1000)) == (V6, 4, 1000, 1)


def test_a_default_route_has_no_destination_attribute():
    assert dxw.parse_route(route_body("0.0.0.0/0")) == (ipaddress.ip_network("0.0.0.0/0"), BIRD, 254, 1)


def test_other_families_are_skipped_and_a_short_message_is_an_error():
    assert dxw.parse_route(struct.pack("=BBBBBBBBI", 7, 0, 0, 0, 254, 12, 0, 1, 0)) is None
    with pytest.raises(dxw.RoutingStateError, match="too short"):
        dxw.parse_route(b"\x02\x10")
    with pytest.raises(dxw.RoutingStateError, match="malformed route attribute"):
        dxw.parse_route(route_body("198.18.0.0/16")[:12] + struct.pack("=HH", 2, 1))


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


def test_only_unicast_routes_of_the_protocol_in_the_main_table_count():
    routes = [
        (VPC, BIRD, 254, 1),
        (LAN, 4, 254, 1),  # static, not bird
        (V6, BIRD, 100, 1),  # another table
        (ipaddress.ip_network("198.18.9.0/24"), BIRD, 254, 6),  # blackhole
    ]
    assert dxw.installed_prefixes(routes, BIRD) == {VPC}


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


def test_a_dump_collects_the_routes_until_done():
    table = table_with_dumps([message(24, route_body("198.18.0.0/16"), 0x2) + message(24, route_body("198.19.0.0/24", protocol=4), 0x2), done()])
    assert table.routes() == [(VPC, BIRD, 254, 1), (LAN, 4, 254, 1)]
    kind, flags, _body = next(dxw.netlink_messages(table._dumps.sent[0]))  # pylint: disable=protected-access
    assert (kind, flags) == (26, 0x301)


def test_a_dump_interrupted_by_a_change_is_repeated():
    interrupted = [message(24, route_body("198.19.0.0/24"), 0x12), done(0x12)]
    complete = [message(24, route_body("198.18.0.0/16"), 0x2), done()]
    table = table_with_dumps(interrupted, complete)
    assert table.routes() == [(VPC, BIRD, 254, 1)]


def test_a_refused_dump_or_a_socket_error_is_a_routing_state_error():
    with pytest.raises(dxw.RoutingStateError, match="route dump refused: Operation not permitted"):
        table_with_dumps([message(2, struct.pack("=i", -errno.EPERM) + bytes(16))]).routes()
    with pytest.raises(dxw.RoutingStateError, match="route dump: .*Connection reset"):
        table_with_dumps([OSError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))]).routes()


class FakeEventSocket:
    def __init__(self, items):
        self.items = list(items)

    def recv(self, _size):
        if not self.items:
            raise BlockingIOError()
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_lost_events_are_reported_so_the_table_is_read_again():
    table = dxw.RouteTable()
    table.events = FakeEventSocket([message(24, route_body("198.18.0.0/16")), OSError(errno.ENOBUFS, "No buffer space available")])
    assert table.drain_events() is True
    table.events = FakeEventSocket([message(25, route_body("198.18.0.0/16"))])
    assert table.drain_events() is False


def test_this_machines_table_can_be_dumped():
    table = dxw.RouteTable()
    table.open()
    try:
        routes = table.routes()
    finally:
        table.close()
    # Every Linux network namespace has the loopback's local route in table 255.
    assert (ipaddress.ip_network("127.0.0.0/8"), 2, 255, 2) in routes


# --------------------------------------------------------------------------- fail closed


class BrokenTable:
    """A table whose sockets open but whose dump fails, as when netlink is refused."""

    events = None

    def open(self):
        pass

    def close(self):
        pass

    def routes(self):
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
