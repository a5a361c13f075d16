# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One direction of a drill's flow: loss windows, outages and path changes (by TTL).

* A **loss window** is a run of consecutive sequence numbers that never arrived. It starts
  at the estimated send time of its first lost datagram (interpolated between the send
  times of the received neighbours, which travel in the datagrams) and lasts
  ``lost * interval_s``: the resolution of every outage is one interval.
* Outage arithmetic uses the sender's timestamps only, so the two endpoints' clocks need
  not agree; one-way delay (receiver clock minus sender clock) is information only.
* Datagrams sent before the receiver started, or too late to arrive before it stopped,
  are not counted. A loss that lasts until the end is **not recovered**.
* The TTL of the first datagrams marks the first path. Each change of TTL, in send order,
  is a path change (via DX and via the VPN differ by a hop); when it never changes the
  paths cannot be told apart by TTL, and no change is invented.
"""

from __future__ import annotations

import bisect

from .values import _count, _median, _ms, _number, _rel, _text


class SendTimes:
    """Estimated send time of any sequence number.

    Received datagrams carry their send time; a lost one is placed between its received
    neighbours, or one interval per sequence number beyond them, or from the sender's first
    send time when nothing arrived.
    """

    def __init__(self, packets, interval, first_sent=None):
        self.seqs = [packet["seq"] for packet in packets]
        self.sent = [packet["sent"] for packet in packets]
        self.interval = interval
        self.first_sent = first_sent

    def at(self, seq):
        index = bisect.bisect_left(self.seqs, seq)
        if index < len(self.seqs) and self.seqs[index] == seq:
            return self.sent[index]
        has_before, has_after = index > 0, index < len(self.seqs)
        if has_before and has_after:
            low, high = index - 1, index
            step = (self.sent[high] - self.sent[low]) / (self.seqs[high] - self.seqs[low])
            return self.sent[low] + (seq - self.seqs[low]) * step
        if self.interval is None:
            return None
        if has_before:
            return self.sent[index - 1] + (seq - self.seqs[index - 1]) * self.interval
        if has_after:
            return self.sent[index] - (self.seqs[index] - seq) * self.interval
        return None if self.first_sent is None else self.first_sent + seq * self.interval


def _interval(sender, packets):
    """The sender's interval from its start line, else the median send-time step of the received datagrams."""
    declared = _number((sender.start or {}).get("interval_s"))
    if declared is not None and declared > 0:
        return declared, None
    steps = [(b["sent"] - a["sent"]) / (b["seq"] - a["seq"]) for a, b in zip(packets, packets[1:])]
    steps = [step for step in steps if step > 0]
    if steps:
        estimate = _median(steps)
        return estimate, "the sender's interval is not in its start line: %.4f s estimated from the send times" % estimate
    return None, "the sender's interval is unknown: outage durations cannot be computed"


def _sent_count(sender, packets):
    """How many datagrams the sender sent, from its end line, else at least the highest sequence received + 1."""
    declared = _count((sender.end or {}).get("sent"))
    highest = packets[-1]["seq"] + 1 if packets else 0
    if sender.end is None:
        return highest, "the sender log has no end line (endpoint killed?): sent is taken as the highest sequence received + 1, " \
                        "so a loss at the end cannot be seen"
    if declared is None:
        return highest, "the sender's end line has no usable sent count: sent is taken as the highest sequence received + 1"
    if declared < highest:
        return highest, "the sender's end line says %d sent but sequence %d arrived: sent is taken as %d" % (declared, highest - 1, highest)
    return declared, None


def _one_way_delays(packets):
    return [(packet["received"] - packet["sent"]) * 1000.0 for packet in packets if packet["received"] is not None]


def _counted_range(sent, receiver, packets, times, interval, max_delay_s):
    """``(first, last, notes)``: the sequence numbers the receiver could have received."""
    notes = []
    first, last = 0, sent - 1
    start = receiver.start_time
    if start is not None:
        while first <= last and times.at(first) is not None and times.at(first) < start:
            first += 1
    if receiver.end is None:
        last = packets[-1]["seq"] if packets else -1
        notes.append("the receiver log has no end line (endpoint killed?): datagrams after the last one it logged are not counted, "
                     "so a loss at the end cannot be seen")
    elif receiver.end_time is not None:
        cutoff = receiver.end_time - (interval or 0.0) - max(0.0, max_delay_s or 0.0)
        while last >= first and times.at(last) is not None and times.at(last) > cutoff:
            last -= 1
    if packets:
        # A datagram that arrived was certainly receivable, whatever the clocks say.
        first, last = min(first, packets[0]["seq"]), max(last, packets[-1]["seq"])
    return first, last, notes


def _loss_runs(received, first, last):
    """``[(first_lost, last_lost)]`` of each run of missing sequence numbers in ``first..last``."""
    runs, run_start = [], None
    for seq in range(first, last + 1):
        if seq in received:
            if run_start is not None:
                runs.append((run_start, seq - 1))
                run_start = None
        elif run_start is None:
            run_start = seq
    if run_start is not None:
        runs.append((run_start, last))
    return runs


def _loss_window(run, last, times, interval, origin):
    first_lost, last_lost = run
    lost = last_lost - first_lost + 1
    start = times.at(first_lost)
    duration = None if interval is None else lost * interval
    return {
        "first_seq": first_lost,
        "last_seq": last_lost,
        "lost": lost,
        "start": _ms(start),
        "t_start": _rel(start, origin),
        "duration_s": _ms(duration),
        "t_end": _rel(None if start is None or duration is None else start + duration, origin),
        "recovered": last_lost < last,
    }


def _path_change(packet, previous_ttl, origin):
    return {"seq": packet["seq"], "time": _ms(packet["sent"]), "t": _rel(packet["sent"], origin), "from_ttl": previous_ttl, "to_ttl": packet["ttl"]}


def ttl_paths(packets, origin):
    """The first path's TTL, every TTL change in send order, and the first datagrams on a new path after the fault and back."""
    with_ttl = [packet for packet in packets if packet["ttl"] is not None]
    baseline = with_ttl[0]["ttl"] if with_ttl else None
    changes, previous = [], baseline
    for packet in with_ttl[1:]:
        if packet["ttl"] != previous:
            changes.append(_path_change(packet, previous, origin))
            previous = packet["ttl"]
    first_new = next((change for change in changes if change["to_ttl"] != baseline and (origin is None or change["time"] >= origin)), None)
    first_back = None
    if first_new is not None:
        first_back = next((change for change in changes if change["to_ttl"] == baseline and change["seq"] > first_new["seq"]), None)
    return {
        "baseline_ttl": baseline,
        "values": sorted({packet["ttl"] for packet in with_ttl}),
        "changes": changes,
        "distinguishable": bool(changes),
        "first_on_new_path": first_new,
        "first_back_on_first_path": first_back,
    }


def _ttl_problems(ttl, packets):
    if not packets:
        return []
    if ttl["baseline_ttl"] is None:
        return ["no received datagram has a TTL: the paths cannot be told apart"]
    if not ttl["distinguishable"]:
        return ["the TTL never changed (always %d): the paths are indistinguishable by TTL" % ttl["baseline_ttl"]]
    return []


def _delay_summary(delays):
    if not delays:
        return None
    return {"min": _ms(min(delays)), "median": _ms(_median(delays)), "max": _ms(max(delays))}


def _endpoint_problems(sender, receiver):
    """Whether the two logs are a pair: the sender's peer should be the receiver's address."""
    peer = ((sender.start or {}).get("peer"), (sender.start or {}).get("peer_port"))
    own = ((receiver.start or {}).get("address"), (receiver.start or {}).get("port"))
    if None in peer or None in own or peer == own:
        return []
    return ["the sender log's peer is not the receiver log's address and port: are the two logs of this flow swapped?"]


def analyse_direction(name, sender, receiver, origin=None):
    """Loss, outages and path changes of one direction, from the sender's FlowLog and the receiver's FlowLog.

    ``origin`` is the fault's start (epoch); it places the windows and picks the first
    datagram on a new path after the fault. Returns ``(direction, points)``: the numbers,
    and ``[(send time, ttl)]`` of every datagram received, for the plot.
    """
    packets = receiver.ordered_packets()
    interval, interval_problem = _interval(sender, packets)
    sent, sent_problem = _sent_count(sender, packets)
    first_sent = _number((sender.end or {}).get("first_sent")) or sender.start_time
    times = SendTimes(packets, interval, first_sent)
    delays = _one_way_delays(packets)
    first, last, range_problems = _counted_range(sent, receiver, packets, times, interval, max(delays) / 1000.0 if delays else None)
    received = {packet["seq"] for packet in packets if first <= packet["seq"] <= last}
    windows = [_loss_window(run, last, times, interval, origin) for run in _loss_runs(received, first, last)]
    # Without an interval there is no duration: unknown, not zero.
    durations = None if interval is None else [window["duration_s"] for window in windows]
    counted = max(0, last - first + 1)
    ttl = ttl_paths(packets, origin)
    problems = [problem for problem in (interval_problem, sent_problem) if problem] + range_problems
    problems += _ttl_problems(ttl, packets) + _endpoint_problems(sender, receiver)
    if counted and not received:
        problems.append("nothing was received")
    elif windows and not windows[-1]["recovered"]:
        problems.append("the flow never recovered: %d datagrams lost from t=%s s to the end" % (windows[-1]["lost"], windows[-1]["t_start"]))
    direction = {
        "name": name,
        "interval_s": interval,
        "sent": sent,
        "counted": counted,
        "not_counted": sent - counted,
        "received": len(received),
        "lost": counted - len(received),
        "loss_pct": round(100.0 * (counted - len(received)) / counted, 3) if counted else None,
        "duplicates": receiver.duplicates,
        "reordered": receiver.reordered,
        "loss_windows": windows,
        "longest_outage_s": None if durations is None else _ms(max(durations, default=0.0)),
        "total_outage_s": None if durations is None else _ms(sum(durations)),
        "recovered": bool(received) and (not windows or windows[-1]["recovered"]),
        "ttl": ttl,
        "one_way_delay_ms": _delay_summary(delays),
        "sender_end_line": sender.end is not None,
        "receiver_end_line": receiver.end is not None,
        "ended_by": _text((sender.end or {}).get("ended_by")),
        "problems": ["%s: %s" % (name, problem) for problem in problems],
    }
    points = [(packet["sent"], packet["ttl"]) for packet in packets]
    return direction, points
