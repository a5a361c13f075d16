# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Detection time against false failovers for candidate probe settings: one table to choose defaults from.

No network, no root: the REAL ``FailoverStateMachine`` is fed synthetic rounds on a
synthetic clock. For every candidate (probe interval and timeout, echoes per target per
round, number of targets, quorum, hard-failure rounds; brownout settings as today):

* **detection**: a silent cut at many phases of the probe schedule (every echo whose
  reply is due after the cut is lost; a round with a lost echo ends at its timeout, as
  ``IcmpProber.round`` does). The time from the cut to the end of the round the machine
  fails over on: median, p95, max over the phases.
* **false failovers per day** at independent random per-echo loss: EXACT for the
  hard-failure rule (run length of failed rounds, a Markov chain) and by Monte Carlo of
  the real machine, which includes the brownout rule. The Monte Carlo counts failovers
  per day spent on DX: its machine fails back at the first clean round (hold 0), so time
  on the VPN is not counted and every failover starts a fresh run of rounds, as in the
  exact computation.
* **probe cost**: echoes per second on a healthy link.

The candidates are today's defaults (read from policy/defaults.py), the previous defaults
(1 echo per target per round, hard failure after 5 rounds), the seed's rule and a grid.
A target answers in a round when any of its echoes is answered; the brownout window counts
every echo, as the daemon does. Echoes of one round are sent together (``echo_spacing_s``
0) except for the seed's rule, whose 3 echoes are 1 s apart.

It measures and reports; it asserts nothing. Exit code 0 whatever was measured, 2 on
bad usage, 130 when interrupted. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import itertools
import json
import math
import os
import random
import sys
import time

from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import default
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import FailoverStateMachine
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PolicySettings
from benchmarks import baseline_monitor
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import machine_info
from harness.bench import percentile
from harness.bench import positive
from harness.paths import REPO_ROOT

RESULTS_DIR = os.path.join(REPO_ROOT, "benchmarks", "results")
SECONDS_PER_DAY = 86400.0
WINDOW_OF_CONCERN_S = 600.0  # the "no false failover at 10% loss over 10 minutes"
DETECTION_TARGET_S = 0.5
MAX_FALSE_FAILOVERS_PER_DAY = 1.0
# The seed's script (baseline_monitor.py) pauses this long between cycles (its --pause default).
SEED_PAUSE_S = 2.0
# Echo patterns of one round are enumerated for the exact mean round period; more echoes than this is a grid mistake.
MAX_ECHOES_PER_ROUND = 12
# The daemon's defaults before issue 13 changed them, kept as a candidate to compare with.
PREVIOUS_DEFAULTS = {"interval_s": 0.1, "timeout_s": 0.1, "echoes": 1, "hard_failure_rounds": 5}
# baseline_monitor.py has no brownout rule. A threshold that only a window of nothing but lost
# echoes exceeds leaves the seed's cycle to its hard-failure rule, which fires first on such a window.
NO_BROWNOUT_LOSS_PCT = 99.9


# --------------------------------------------------------------------------- candidates


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One probe schedule and policy. ``pause_s`` None: fixed slots every ``interval_s`` (the daemon);
    otherwise the next round starts ``pause_s`` after the previous one ended (the seed's script)."""

    name: str
    interval_s: float
    timeout_s: float
    echoes: int
    targets: int
    settings: PolicySettings
    echo_spacing_s: float = 0.0
    pause_s: float = None

    def problems(self):
        problems = list(self.settings.problems())
        if self.settings.min_healthy_targets > self.targets:
            problems.append("quorum %d exceeds %d targets" % (self.settings.min_healthy_targets, self.targets))
        if self.pause_s is None and self.timeout_s > self.interval_s:
            problems.append("timeout must be <= interval, as monitor/config.py requires")
        if self.echoes * self.targets > MAX_ECHOES_PER_ROUND:
            problems.append("at most %d echoes per round" % MAX_ECHOES_PER_ROUND)
        return problems

    def echo_offsets(self):
        return [number * self.echo_spacing_s for number in range(self.echoes)]

    def round_end(self, start, lost, rtt_s):
        """When the round returns: when its last echo is answered, or its last lost echo times out.
        ``lost[target][echo]`` is True for a lost echo."""
        offsets = self.echo_offsets()
        return start + max(offsets[number] + (self.timeout_s if flag else rtt_s) for flags in lost for number, flag in enumerate(flags))

    def next_start(self, start, end):
        if self.pause_s is not None:
            return end + self.pause_s
        # The daemon's fixed schedule: the next slot, skipping whole slots the round overran.
        slot = start + self.interval_s
        if end - slot >= self.interval_s:
            slot += (end - slot) // self.interval_s * self.interval_s
        return max(slot, end)

    def healthy_period_s(self, rtt_s):
        start = 0.0
        return self.next_start(start, self.round_end(start, self.all_answered(), rtt_s)) - start

    def all_answered(self):
        return [[False] * self.echoes for _target in range(self.targets)]

    def echoes_per_second(self, rtt_s):
        return self.echoes * self.targets / self.healthy_period_s(rtt_s)

    def describe_schedule(self):
        if self.pause_s is not None:
            return "%d echoes %g s apart, timeout %g s, pause %g s" % (self.echoes, self.echo_spacing_s, self.timeout_s, self.pause_s)
        return "%g / %g s" % (self.interval_s, self.timeout_s)

    def describe_probes(self):
        return "%d x %d (quorum %d)" % (self.echoes, self.targets, self.settings.min_healthy_targets)


def plural(count, word, suffix="s"):
    return "%d %s%s" % (count, word, "" if count == 1 else suffix)


def todays_defaults(targets):
    """The daemon's defaults, read from policy/defaults.py; the number of targets is the deployment's choice."""
    return Candidate(
        name="today's defaults, %s" % plural(targets, "target"),
        interval_s=default("probe.interval"), timeout_s=default("probe.timeout"), echoes=default("probe.echoes"), targets=targets,
        settings=PolicySettings(),
    )


def previous_defaults(targets):
    """The defaults before issue 13 (PREVIOUS_DEFAULTS); the brownout settings are today's, which they did not change."""
    return Candidate(
        name="previous defaults (%s, H%d), %s" % (plural(PREVIOUS_DEFAULTS["echoes"], "echo", "es"), PREVIOUS_DEFAULTS["hard_failure_rounds"],
                                                  plural(targets, "target")),
        interval_s=PREVIOUS_DEFAULTS["interval_s"], timeout_s=PREVIOUS_DEFAULTS["timeout_s"], echoes=PREVIOUS_DEFAULTS["echoes"], targets=targets,
        settings=PolicySettings(hard_failure_rounds=PREVIOUS_DEFAULTS["hard_failure_rounds"]),
    )


def seed_rule():
    """The original reference script as benchmarks/baseline_monitor.py models it: one target, a cycle of
    3 echoes 1 s apart with 1 s timeouts, failover when the whole cycle is lost (one failed round), no brownout rule."""
    return Candidate(
        name="seed's rule", interval_s=None, timeout_s=baseline_monitor.ECHO_TIMEOUT_S, echoes=baseline_monitor.ECHOES, targets=1,
        settings=PolicySettings(min_healthy_targets=1, hard_failure_rounds=1, brownout_loss_pct=NO_BROWNOUT_LOSS_PCT),
        echo_spacing_s=baseline_monitor.ECHO_INTERVAL_S, pause_s=SEED_PAUSE_S,
    )


def grid_candidate(interval_s, echoes, targets, hard_failure_rounds, timeout_s=None):
    timeout_s = interval_s if timeout_s is None else timeout_s
    probes = "%s x %s" % (plural(echoes, "echo", "es"), plural(targets, "target"))
    return Candidate(
        name="%g s, %s, H%d" % (interval_s, probes, hard_failure_rounds),
        interval_s=interval_s, timeout_s=timeout_s, echoes=echoes, targets=targets,
        settings=PolicySettings(min_healthy_targets=1, hard_failure_rounds=hard_failure_rounds),
    )


# (interval, echoes, targets, hard-failure rounds): around the 0.5 s target. At 0.1 s the median is
# about H * 0.1 - 0.05 + timeout, so H4 is the longest that can meet it; H3 and H5 bracket it.
# At 0.05 s, H8 is at the same detection as 0.1 s H4 and H6 faster. Quorum is 1 throughout.
# Fourteen candidates in all keep the default run near 5 minutes of CPU.
DEFAULT_GRID = (
    (0.1, 1, 1, 4), (0.1, 2, 1, 3), (0.1, 2, 1, 4), (0.1, 2, 1, 5), (0.1, 1, 2, 4), (0.1, 2, 2, 3), (0.1, 2, 2, 4), (0.1, 1, 3, 4),
    (0.05, 1, 1, 8), (0.05, 2, 1, 6), (0.05, 2, 1, 8),
)


def default_candidates():
    """The named candidates, then the grid without the rows that repeat one of them (today's defaults are in the grid)."""
    named = [todays_defaults(1), todays_defaults(3), previous_defaults(1), previous_defaults(3), seed_rule()]
    return without_repeats(named + [grid_candidate(*row) for row in DEFAULT_GRID])


def without_repeats(candidates):
    """The candidates in order, each schedule and policy once: a later candidate equal to an earlier one but for its name is left out."""
    seen, kept = set(), []
    for candidate in candidates:
        key = dataclasses.replace(candidate, name="")
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


# --------------------------------------------------------------------------- exact: the hard-failure rule


def target_lost_probability(loss, echoes):
    """A target is lost in a round only when every one of its echoes is lost (independently)."""
    return loss ** echoes


def round_failure_probability(loss, echoes, targets, quorum):
    """Fewer than ``quorum`` of ``targets`` answered: a binomial tail."""
    lost = target_lost_probability(loss, echoes)
    return sum(math.comb(targets, answered) * (1.0 - lost) ** answered * lost ** (targets - answered) for answered in range(quorum))


def failover_rate_per_round(failure_probability, hard_failure_rounds):
    """Failovers per round of a fresh run that fails over after ``hard_failure_rounds`` failed rounds in a row.

    The rounds to the first run of H failures from a fresh counter number on average
    (1 - p^H) / ((1 - p) p^H); written as its inverse so that p = 0 gives 0 and small p stays exact.
    """
    p, runs = failure_probability, hard_failure_rounds
    if p >= 1.0:
        return 1.0 / runs
    return (1.0 - p) * p ** runs / (1.0 - p ** runs)


def probability_of_failover_within(failure_probability, hard_failure_rounds, rounds):
    """P(at least one run of H failed rounds within ``rounds`` rounds): the chain over the counter 0..H-1, H absorbing."""
    counter = [1.0] + [0.0] * (hard_failure_rounds - 1)
    failed_over = 0.0
    for _round in range(rounds):
        failed_over += counter[-1] * failure_probability
        counter = [sum(counter) * (1.0 - failure_probability)] + [mass * failure_probability for mass in counter[:-1]]
    return failed_over


def loss_patterns(candidate, loss):
    """Every pattern of lost echoes in one round, with its probability."""
    size = candidate.echoes * candidate.targets
    for flags in itertools.product((False, True), repeat=size):
        lost_count = sum(flags)
        probability = loss ** lost_count * (1.0 - loss) ** (size - lost_count)
        yield probability, [list(flags[index:index + candidate.echoes]) for index in range(0, size, candidate.echoes)]


def mean_round_period_s(candidate, loss, rtt_s):
    """Seconds from one round's start to the next's, averaged over the round's loss patterns.

    By Wald's identity the expected time to a failover is then the expected number of
    rounds times this mean, even where failed rounds last longer (the seed's cycle)."""
    return sum(probability * candidate.next_start(0.0, candidate.round_end(0.0, lost, rtt_s)) for probability, lost in loss_patterns(candidate, loss))


def exact_false_failovers(candidate, loss, rtt_s):
    """The hard-failure rule alone: failovers per day on DX, and P(>= 1) within the window of concern."""
    settings = candidate.settings
    p = round_failure_probability(loss, candidate.echoes, candidate.targets, settings.min_healthy_targets)
    period_s = mean_round_period_s(candidate, loss, rtt_s)
    per_day = failover_rate_per_round(p, settings.hard_failure_rounds) * SECONDS_PER_DAY / period_s
    rounds = int(WINDOW_OF_CONCERN_S // period_s)
    return {
        "round_failure_probability": p,
        "mean_round_period_s": period_s,
        "per_day": per_day,
        "p_at_least_one_in_window": probability_of_failover_within(p, settings.hard_failure_rounds, rounds),
    }


# --------------------------------------------------------------------------- the real state machine


def echo_rtts_of(lost, rtt_ms):
    """What the daemon hands the machine: per target, the RTT of each echo, None for a lost one."""
    return [[None if flag else rtt_ms for flag in flags] for flags in lost]


def detection_time_s(candidate, phase, rtt_s, warm_up_s=None):
    """Seconds from a silent cut to the end of the round the machine fails over on.

    The cut falls ``phase`` (0 <= phase < 1) of a healthy period after the start of the
    first round at or after the warm-up (by default one brownout window of clean rounds).
    An echo is lost when its reply would arrive after the cut.
    """
    settings = candidate.settings
    warm_up_s = settings.brownout_window_s if warm_up_s is None else warm_up_s
    machine = FailoverStateMachine(settings, candidate.targets)
    offsets = candidate.echo_offsets()
    start, cut = 0.0, None
    max_rounds = int(warm_up_s / candidate.healthy_period_s(rtt_s)) + 10 * settings.hard_failure_rounds + 1000
    for _round in range(max_rounds):
        if cut is None and start >= warm_up_s:
            cut = start + phase * candidate.healthy_period_s(rtt_s)
        lost = [[cut is not None and start + offset + rtt_s > cut for offset in offsets] for _target in range(candidate.targets)]
        end = candidate.round_end(start, lost, rtt_s)
        if machine.observe(start, echo_rtts_of(lost, rtt_s * 1000.0)).transition:
            return end - cut
        start = candidate.next_start(start, end)
    raise RuntimeError("%s never failed over after a cut" % candidate.name)


def detection_summary(candidate, phases, rtt_s):
    """Detection over ``phases`` evenly spread phases of the schedule (their midpoints)."""
    times = [detection_time_s(candidate, (index + 0.5) / phases, rtt_s) for index in range(phases)]
    return {"median_s": percentile(times, 0.5), "p95_s": percentile(times, 0.95), "max_s": max(times), "min_s": min(times), "phases": phases}


def monte_carlo_false_failovers(candidate, loss, simulated_s, seed, rtt_s):
    """Feed the real machine random rounds for ``simulated_s`` seconds; count failovers per day on DX.

    The machine's failback hold is 0, so it returns to DX at the first clean round
    without brownout; rounds observed on the VPN do not count as time on DX.
    """
    started_cpu = time.process_time()
    rng = random.Random(seed)
    machine = FailoverStateMachine(dataclasses.replace(candidate.settings, failback_hold_s=0.0), candidate.targets)
    rtt_ms = rtt_s * 1000.0
    start, dx_s, rounds = 0.0, 0.0, 0
    reasons = {}
    while start < simulated_s:
        lost = [[rng.random() < loss for _echo in range(candidate.echoes)] for _target in range(candidate.targets)]
        end = candidate.round_end(start, lost, rtt_s)
        following = candidate.next_start(start, end)
        on_dx = machine.path == PATH_DX
        decision = machine.observe(start, echo_rtts_of(lost, rtt_ms))
        if on_dx:
            dx_s += following - start
            if decision.transition:
                reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
        start = following
        rounds += 1
    failovers = sum(reasons.values())
    return {
        "candidate": candidate.name, "loss": loss, "seed": seed, "simulated_s": simulated_s, "rounds": rounds, "dx_s": dx_s,
        "failovers": failovers, "reasons": reasons, "per_day": failovers * SECONDS_PER_DAY / dx_s if dx_s else None,
        # With no failover seen, three per simulated day is the 95% upper bound (the rule of three).
        "per_day_upper_95": None if failovers or not dx_s else 3.0 * SECONDS_PER_DAY / dx_s,
        "cpu_s": time.process_time() - started_cpu,
    }


def poisson_at_least_one(per_day, seconds):
    return None if per_day is None else 1.0 - math.exp(-per_day * seconds / SECONDS_PER_DAY)


# --------------------------------------------------------------------------- running it


def run_seed(base_seed, candidate, loss):
    """A reproducible seed per candidate and loss (random.Random hashes strings deterministically)."""
    return "%d/%s/%g" % (base_seed, candidate.name, loss)


def monte_carlo_jobs(candidates, args):
    jobs = []
    for candidate in candidates:
        jobs.append((candidate, args.loss, args.days * SECONDS_PER_DAY))
        jobs.extend((candidate, loss, args.other_days * SECONDS_PER_DAY) for loss in args.other_loss if args.other_days > 0)
    return jobs


def run_monte_carlo(candidates, args):
    """Every candidate's Monte Carlo runs, spread over ``args.jobs`` processes; keyed by (name, loss)."""
    jobs = monte_carlo_jobs(candidates, args)
    results = {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(monte_carlo_false_failovers, candidate, loss, seconds, run_seed(args.seed, candidate, loss), args.rtt_ms / 1000.0)
                   for candidate, loss, seconds in jobs]
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results[(result["candidate"], result["loss"])] = result
    return results


def evaluate(candidates, args, monte_carlo):
    """One row per candidate, sorted by detection median."""
    rtt_s = args.rtt_ms / 1000.0
    rows = []
    for candidate in candidates:
        row = {
            "candidate": candidate.name, "schedule": candidate.describe_schedule(), "probes": candidate.describe_probes(),
            "hard_failure_rounds": candidate.settings.hard_failure_rounds, "echoes_per_second": candidate.echoes_per_second(rtt_s),
            "detection": detection_summary(candidate, args.phases, rtt_s),
            "exact": {loss: exact_false_failovers(candidate, loss, rtt_s) for loss in sorted({args.loss, *args.other_loss})},
            "monte_carlo": {loss: result for (name, loss), result in monte_carlo.items() if name == candidate.name},
        }
        row["meets"] = meets_targets(row, args.loss)
        rows.append(row)
    return sorted(rows, key=lambda row: (row["detection"]["median_s"], row["echoes_per_second"]))


def meets_targets(row, loss):
    """Median detection <= 0.5 s, and fewer than 1 false failover per day at ``loss`` by both the exact
    rule and the Monte Carlo point estimate (which puts P(>= 1 in 10 min) below 0.7%)."""
    simulated = row["monte_carlo"].get(loss)
    return (
        row["detection"]["median_s"] <= DETECTION_TARGET_S
        and row["exact"][loss]["per_day"] < MAX_FALSE_FAILOVERS_PER_DAY
        and simulated is not None and simulated["per_day"] < MAX_FALSE_FAILOVERS_PER_DAY
    )


def worst_rate(row, loss):
    """The larger of the exact rate (hard-failure rule) and the Monte Carlo one (both rules), per day."""
    simulated = row["monte_carlo"].get(loss)
    return max(row["exact"][loss]["per_day"], simulated["per_day"] if simulated else 0.0)


def recommend(rows, args):
    """Among the rows that meet both targets: the cheapest probing, then the fewest false failovers
    at the harshest loss examined, then at the judged loss, then the fastest detection."""
    meeting = [row for row in rows if row["meets"]]
    if not meeting:
        return None
    harshest = max([args.loss, *args.other_loss])
    return min(meeting, key=lambda row: (row["echoes_per_second"], worst_rate(row, harshest), worst_rate(row, args.loss), row["detection"]["median_s"]))


# --------------------------------------------------------------------------- the table


def rate(value):
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if value >= 100:
        return "%.0f" % value
    if value >= 0.01:
        return "%.3g" % value
    return "%.1e" % value


def simulated_cell(result):
    if result is None:
        return "-"
    days = result["dx_s"] / SECONDS_PER_DAY
    if not result["failovers"]:
        return "0 in %.2g d (< %s)" % (days, rate(result["per_day_upper_95"]))
    reasons = ", ".join("%d %s" % (count, reason) for reason, count in sorted(result["reasons"].items()))
    return "%s (%s in %.2g d)" % (rate(result["per_day"]), reasons, days)


def probability(value):
    if value is None:
        return "-"
    if value == 0 or value >= 1e-3:
        return "%.3g%%" % (100.0 * value) if value else "0"
    return "%.1e" % value


def table(rows, args, recommended):
    losses = sorted({args.loss, *args.other_loss})
    headers = ["candidate", "interval / timeout", "echoes x targets", "H", "echoes/s", "detection median / p95 / max"]
    for loss in losses:
        headers.append("false failovers/day at %g%%: exact" % (100 * loss))
        headers.append("%g%%: Monte Carlo" % (100 * loss))
    headers += ["P(>=1 in 10 min) at %g%%: exact / MC" % (100 * args.loss), "meets"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        detection = row["detection"]
        cells = [row["candidate"], row["schedule"], row["probes"], str(row["hard_failure_rounds"]), "%.3g" % row["echoes_per_second"],
                 "%.2f / %.2f / %.2f s" % (detection["median_s"], detection["p95_s"], detection["max_s"])]
        for loss in losses:
            cells.append(rate(row["exact"][loss]["per_day"]))
            cells.append(simulated_cell(row["monte_carlo"].get(loss)))
        simulated = row["monte_carlo"].get(args.loss)
        cells.append("%s / %s" % (probability(row["exact"][args.loss]["p_at_least_one_in_window"]),
                                  probability(poisson_at_least_one(simulated["per_day"], WINDOW_OF_CONCERN_S) if simulated else None)))
        cells.append(("**yes (recommended)**" if row is recommended else "yes") if row["meets"] else "no")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recommendation_text(recommended, args):
    if recommended is None:
        return "No candidate meets both targets."
    harshest = max([args.loss, *args.other_loss])
    exact = recommended["exact"]
    return (
        "Recommendation: %s (%s, %s, H%d). Median detection %.2f s; at %g%% loss %s false failovers/day exact, %s by Monte Carlo; "
        "at %g%% loss %s exact, %s by Monte Carlo; %.3g echoes/s. Chosen as the cheapest candidate that meets both targets, "
        "then the fewest false failovers at %g%% loss, then at %g%%, then the fastest detection."
    ) % (
        recommended["candidate"], recommended["schedule"], recommended["probes"], recommended["hard_failure_rounds"],
        recommended["detection"]["median_s"], 100 * args.loss, rate(exact[args.loss]["per_day"]), simulated_cell(recommended["monte_carlo"].get(args.loss)),
        100 * harshest, rate(exact[harshest]["per_day"]), simulated_cell(recommended["monte_carlo"].get(harshest)),
        recommended["echoes_per_second"], 100 * harshest, 100 * args.loss,
    )


def document(rows, args, recommended, runtime):
    def jsonable(row):
        return dict(row, exact={str(loss): value for loss, value in row["exact"].items()},
                    monte_carlo={str(loss): value for loss, value in row["monte_carlo"].items()})
    return {
        "benchmark": "detection_tradeoff",
        "options": vars(args),
        "machine": machine_info(),
        "runtime": runtime,
        "thresholds": {"detection_median_s": DETECTION_TARGET_S, "false_failovers_per_day": MAX_FALSE_FAILOVERS_PER_DAY, "window_s": WINDOW_OF_CONCERN_S},
        "recommended": recommended["candidate"] if recommended else None,
        "rows": [jsonable(row) for row in rows],
    }


# --------------------------------------------------------------------------- command line


def loss_fraction(text):
    value = float(text)
    if not 0 <= value < 100:
        raise argparse.ArgumentTypeError("a loss in percent, 0 <= loss < 100, got %s" % text)
    return value / 100.0


def loss_list(text):
    return [loss_fraction(item) for item in text.split(",") if item.strip()]


def non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md.")
    parser.add_argument("--loss", type=loss_fraction, default=0.10, help="per-echo round-trip loss in %% the targets are judged at (default 10)")
    parser.add_argument("--other-loss", type=loss_list, default=[0.05, 0.20], help="further losses in %%, comma-separated (default 5,20)")
    parser.add_argument("--days", type=positive(float), default=1.0, help="simulated days per candidate at --loss (default 1)")
    parser.add_argument("--other-days", type=non_negative, default=0.05, help="simulated days per candidate at each --other-loss (default 0.05; 0: exact only)")
    parser.add_argument("--phases", type=positive(int), default=400, help="cut phases per candidate for the detection time (default 400)")
    parser.add_argument("--rtt-ms", type=non_negative, default=1.0, help="round-trip time of an answered echo (default 1 ms)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the Monte Carlo (default: a random one, printed)")
    parser.add_argument("--jobs", type=positive(int), default=os.cpu_count() or 1, help="processes for the Monte Carlo (default: the CPUs)")
    parser.add_argument("--quick", action="store_true", help="0.05 simulated days, 0.01 at the other losses, 100 phases (about 20 s)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/detection-<UTC timestamp>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.other_days, args.phases = 0.05, 0.01, 100
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2 ** 31)
    args.other_loss = [loss for loss in args.other_loss if loss != args.loss]
    return args


def main(argv=None):
    args = parse_args(argv)
    candidates = default_candidates()
    for candidate in candidates:
        if candidate.problems():
            print("bad candidate %s: %s" % (candidate.name, "; ".join(candidate.problems())), file=sys.stderr)
            return 2
    started_wall, started, started_cpu = time.time(), time.monotonic(), time.process_time()
    print("seed %d; %d candidates; Monte Carlo %g simulated days at %g%% and %g at %s%% per candidate, %d processes"
          % (args.seed, len(candidates), args.days, 100 * args.loss, args.other_days, ",".join("%g" % (100 * loss) for loss in args.other_loss), args.jobs),
          file=sys.stderr, flush=True)
    try:
        monte_carlo = run_monte_carlo(candidates, args)
        rows = evaluate(candidates, args, monte_carlo)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    recommended = recommend(rows, args)
    runtime = {
        "wall_s": round(time.monotonic() - started, 1),
        "cpu_s": round(time.process_time() - started_cpu + sum(result["cpu_s"] for result in monte_carlo.values()), 1),
        "monte_carlo_cpu_s": round(sum(result["cpu_s"] for result in monte_carlo.values()), 1),
    }
    stamp = datetime.datetime.fromtimestamp(started_wall, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or os.path.join(RESULTS_DIR, "detection-%s.json" % stamp)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(document(rows, args, recommended, runtime), handle, indent=2)
        handle.write("\n")
    print()
    print("detection vs false failovers: seed %d, %.1f s wall, %.1f s CPU (Monte Carlo %.1f s), RTT %g ms, %d phases"
          % (args.seed, runtime["wall_s"], runtime["cpu_s"], runtime["monte_carlo_cpu_s"], args.rtt_ms, args.phases))
    print("meets = median detection <= %.1f s and < %g false failover/day at %g%% loss, exact and Monte Carlo"
          % (DETECTION_TARGET_S, MAX_FALSE_FAILOVERS_PER_DAY, 100 * args.loss))
    print()
    print(table(rows, args, recommended))
    print()
    print(recommendation_text(recommended, args))
    shown = os.path.relpath(output)
    print("raw numbers: %s" % (output if shown.startswith("..") else shown))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
