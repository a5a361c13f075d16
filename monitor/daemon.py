# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's main loop: probe rounds on a fixed cadence, decisions, and the wiring.

Threads and who owns what:

* main thread: probe rounds (``Prober.round``), the state machine, metrics of the
  round, decisions, status lines, signals (SIGTERM/SIGINT stop, SIGHUP reload);
* ``actuator``: every EC2 call, converging the route tables to the desired path;
* ``vpn-check`` (optional): the VPN path prober;
* ``coordinator`` (only with ``coordination.table``): the lease, so that of the monitors
  of one failover group only one, the writer, changes route tables (the actuator asks
  it before every route call);
* ``reload-check`` (during a reload that changes what the routes are): the read-only
  check of the new configuration against AWS (``online_check.py``);
* ``state-writer``, ``notifier``, ``cloudwatch`` and the log writer: file, SNS,
  CloudWatch and stdout I/O, so none of them can delay a round (the probe loop only
  adds to the CloudWatch aggregator's sums).

Start-up never assumes a path: the state machine is created once the actuator has
read the route tables (``mixed`` counts as VPN, and is then converged). Until then
rounds are measured but not judged.
"""

from __future__ import annotations

import signal
import threading
import time

from . import __version__
from .actuator import Actuator
from .aws import ec2_client
from .cloudwatch import Publisher
from .coordination import Coordinator
from .config import load_config
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ProbeError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import FailoverStateMachine
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import best_rtt_ms
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import failback_hold_s
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import round_passes
from ansible_collections.localzones.failover.plugins.module_utils.probing import prober_for
from ansible_collections.localzones.failover.plugins.module_utils.probing.base import echo_rtts_ms_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_MIXED
from .metrics import NAN
from .metrics import Metrics
from .notify import Notifier
from .notify import sns_client
from .online_check import online_check
from .online_check import routes_left_unmanaged
from .state_file import PersistedState
from .state_file import StateFileError
from .state_file import StateWriter
from .state_file import Transition
from .state_file import load_state
from .state_file import monotonic_to_wall
from .state_file import wall_to_monotonic
from .status import IntervalStats
from .status import target_rtts_for_log
from .vpn_check import VpnChecker
from ansible_collections.localzones.failover.plugins.module_utils import events
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import effective_path
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import pin_change

EXIT_OK = 0
EXIT_FAILED = 1


class ReloadCheck:
    """The check of a reloaded configuration against AWS, on its own thread so no probe round waits for it.

    ``problems`` is empty when the configuration can act; ``left_unmanaged`` maps each
    route table the new configuration drops to the VPN path routes still in it.
    """

    def __init__(self, old, new, client_factory, metrics):
        self.old = old
        self.new = new
        self.problems = ()
        self.left_unmanaged = {}
        self._client_factory = client_factory
        self._metrics = metrics
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reload-check", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def done(self):
        return self._done.is_set()

    def wait(self, timeout):
        return self._done.wait(timeout)

    def _run(self):
        try:
            client = self._client_factory(self.new, self._metrics)
            self.problems = online_check(self.new, client).problems
            if not self.problems:
                same_account = (self.old.region, self.old.endpoint_url) == (self.new.region, self.new.endpoint_url)
                old_client = client if same_account else self._client_factory(self.old, self._metrics)
                self.left_unmanaged = routes_left_unmanaged(self.old, self.new, old_client)
        except AwsApiError as exc:
            # Not evidence against the file, but nothing vouches for it either: keep what is known to work.
            self.problems = ("the new configuration could not be checked against AWS: %s %s: %s" % (exc.operation, exc.code, exc.message),)
        except Exception as exc:  # pylint: disable=broad-except
            self.problems = ("the new configuration could not be checked against AWS: %r" % (exc,),)
        finally:
            self._done.set()


class Monitor:  # pylint: disable=too-many-instance-attributes
    """One daemon run: ``run()`` returns the exit code."""

    def __init__(  # pylint: disable=too-many-arguments
        self, config, config_path, log, log_setup=None, metrics=None, clock=time.monotonic, wall=time.time, ec2_client_factory=ec2_client,
    ):
        self.config = config
        self.ec2_client_factory = ec2_client_factory
        self.pending_reload = None
        self.config_path = config_path
        self.log = log
        self.log_setup = log_setup
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.wall = wall
        self.machine = None
        self.prober = None
        self.vpn_checker = None
        self.actuator = None
        self.coordinator = None
        self.pin = None  # the operator's pin this monitor follows (coordination/pin.py), None: its own decisions
        self.notifier = None
        self.cloudwatch = None
        self.writer = None
        self.persisted = PersistedState()
        self.last_transition = None
        self.stop_requested = False
        self.stop_signal = None
        self.reload_requested = False
        self._children = ()
        self._stats = None
        self._next_status = 0.0
        self._next_probe_error_log = 0.0
        self._rounds = self.metrics.probe_rounds
        self._failed_rounds = self.metrics.probe_rounds_failed

    # ------------------------------------------------------------------ lifecycle

    def run(self):
        # First, so a SIGHUP or SIGTERM that arrives while starting is not fatal.
        self._install_signal_handlers()
        self.log.info(events.STARTING, version=__version__, config=self.config_path, summary=self.config.summary())
        try:
            self._start_components()
        except (ProbeError, OSError) as exc:
            self.log.error(events.STARTUP_FAILED, error=getattr(exc, "message", None) or str(exc))
            self._stop_components()
            return EXIT_FAILED
        try:
            self._loop()
        except Exception as exc:  # pylint: disable=broad-except
            # A bug, not an operating condition: say so in the log's own format, exit non-zero for systemd.
            self.log.exception(events.FATAL_ERROR, error=repr(exc))
            return EXIT_FAILED
        finally:
            self._stop_components()
        self.log.info(events.STOPPED, path=self.machine.path if self.machine else None)
        return EXIT_OK

    def _start_components(self):
        self.persisted = self._load_persisted_state()
        self.last_transition = self.persisted.last_transition
        if self.last_transition is not None:
            self.metrics.last_transition.set(self.last_transition.at)
        self._open_prober(self.config)
        self.vpn_checker = self._new_vpn_checker(self.config)
        if self.config.metrics.enabled:
            self.metrics.serve(self.config.metrics.address, self.config.metrics.port)
        self.metrics.time_in_state.set_function(self._time_in_state)
        self.writer = StateWriter(self.config.state_file, self.wall, self._state_write_failed)
        self.notifier = self._new_notifier(self.config)
        self.cloudwatch = self._new_cloudwatch(self.config)
        self.actuator = Actuator(self.config, self.log, self.metrics, on_api_error=self._count_api_error, may_write=self._may_write).start()
        self.coordinator = self._new_coordinator(self.config)
        if self.vpn_checker is not None:
            self.vpn_checker.start()

    def _stop_components(self):
        """Stop without touching routes: the actuator makes no further call."""
        if self.vpn_checker is not None:
            self.vpn_checker.stop()
        if self.actuator is not None:
            self.actuator.stop()
        if self.coordinator is not None:
            # After the actuator: no route call of this monitor follows the release.
            self.coordinator.stop()
        if self.writer is not None:
            if self.machine is not None:
                self.writer.submit(self._state_to_persist())
            self.writer.close()
        if self.notifier is not None:
            self.notifier.stop(timeout=1.0)
        if self.cloudwatch is not None:
            self.cloudwatch.stop(timeout=1.0)
        self.metrics.stop_serving()
        if self.prober is not None:
            self.prober.close()

    def _install_signal_handlers(self):
        # Handlers only set flags; the loop acts on them between rounds.
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, self._request_reload)

    def _request_stop(self, signum, _frame):
        self.stop_requested = True
        self.stop_signal = signal.Signals(signum).name

    def _request_reload(self, _signum, _frame):
        self.reload_requested = True

    # ------------------------------------------------------------------ components

    def _open_prober(self, config):
        self.prober = self._new_prober(config)
        self.bind_targets(config)

    @staticmethod
    def _new_prober(config):
        probe = config.probe
        return prober_for(probe.kind, probe.targets, source=probe.source, privileged=probe.privileged, timeout=probe.timeout, echoes=probe.echoes)

    def bind_targets(self, config):
        targets = config.probe.targets
        self._children = self.metrics.bind_targets(targets)
        self.metrics.watch_windows(targets, self._window_stats)
        self._stats = IntervalStats(targets)

    def _new_vpn_checker(self, config):
        if not config.vpn_check.enabled:
            return None
        return VpnChecker(config.vpn_check, config.probe.kind, config.probe.privileged, self.log, self.metrics)

    def _new_notifier(self, config):
        settings = config.notifications
        if not settings.sns_topic_arn:
            return None
        return Notifier(settings.sns_topic_arn, lambda: sns_client(settings, config.api), self.log, self.metrics).start()

    def _new_cloudwatch(self, config):
        if not config.cloudwatch.enabled:
            return None
        return Publisher(config.cloudwatch, self.log, self.metrics, clock=self.clock, wall=self.wall).start()

    def _new_coordinator(self, config):
        if not config.coordination.enabled:
            return None
        return Coordinator(config, self.log, self.metrics, clock=self.clock, wall=self.wall, on_acquired=self._lease_acquired,
                           ec2_failing_for=self._ec2_failing_for, routes_idle=self._routes_idle).start()

    def _routes_idle(self, timeout):
        """The coordinator's wait before a release: no route call of this monitor in flight."""
        actuator = self.actuator
        return actuator is None or actuator.idle(timeout)

    def _may_write(self):
        """The actuator's guard: without a table this monitor is the only writer; with one, only the lease's writer writes."""
        coordinator = self.coordinator
        if coordinator is None:
            return not self.config.coordination.enabled
        return coordinator.is_writer()

    def _ec2_failing_for(self):
        """Seconds the actuator's EC2 attempts have failed without a break (None: the latest succeeded)."""
        actuator = self.actuator
        return None if actuator is None else actuator.failing_for()

    def _lease_acquired(self, taken_from):
        """Called by the coordinator thread: converge at once; a takeover from another monitor is news for the operator."""
        actuator = self.actuator
        if actuator is not None:
            actuator.wake()
        machine = self.machine
        if taken_from is not None:
            path = self._route_path(machine.path) if machine is not None else None
            self._notify("%s took the lease from %s: routes on %s" % (self.config.coordination.monitor_id, taken_from, path), {
                "event": events.LEASE_ACQUIRED, "taken_from": taken_from, "fencing": self.coordinator.fencing if self.coordinator else None,
                "routes_path": path,
            })

    def _count_api_error(self):
        """Called by the actuator thread; the publisher in use at that moment counts it."""
        cloudwatch = self.cloudwatch
        if cloudwatch is not None:
            cloudwatch.count_api_error()

    def _window_stats(self, index):
        """(loss %, average RTT ms) of a target over the brownout window, read at scrape time."""
        machine = self.machine
        if machine is None or index >= len(machine.windows):
            return None, None
        window = machine.windows[index]
        return min(100.0, max(0.0, window.loss_pct())), window.avg_rtt_ms()

    def _time_in_state(self):
        machine = self.machine
        return NAN if machine is None else self.clock() - machine.entered_path_at

    # ------------------------------------------------------------------ persisted state

    def _load_persisted_state(self):
        path = self.config.state_file
        try:
            state = load_state(path)
        except StateFileError as exc:
            self.log.warning(events.STATE_FILE_IGNORED, path=path, reason=str(exc))
            return PersistedState()
        if state is None:
            self.log.info(events.STATE_FILE_MISSING, path=path)
            return PersistedState()
        self.log.info(
            events.STATE_FILE_LOADED, path=path, desired_path=state.desired_path, failovers_remembered=len(state.failover_history),
            last_transition=state.last_transition.as_dict() if state.last_transition else None,
        )
        return state

    def _state_to_persist(self):
        now, wall_now = self.clock(), self.wall()
        window = self.config.policy.dampening_window_s
        history = [moment for moment in list(self.machine.failover_history) if moment >= now - window]
        return PersistedState(self.machine.path, self.last_transition, monotonic_to_wall(history, wall_now, now))

    def _persist(self):
        self.writer.submit(self._state_to_persist())

    def _state_write_failed(self, path, exc):
        self.log.error(events.STATE_FILE_WRITE_FAILED, path=path, error=str(exc))

    # ------------------------------------------------------------------ the loop

    def _loop(self):
        interval = self.config.probe.interval
        next_slot = self.clock()
        self._next_status = next_slot + self.config.status_interval_s
        while not self.stop_requested:
            if self.reload_requested:
                self.reload()
            if self.pending_reload is not None:
                self.poll_reload()
            if self.config.probe.interval != interval:
                interval, next_slot = self.config.probe.interval, self.clock()
            started = self.clock()
            self._probe_once(started)
            next_slot = self._next_slot(next_slot, interval)
            if started >= self._next_status:
                self.report_status()
                self._next_status = started + self.config.status_interval_s
            pause = next_slot - self.clock()
            if pause > 0 and not self.stop_requested:
                time.sleep(pause)
        self.log.info(events.STOPPING, signal=self.stop_signal)

    def _probe_once(self, started):
        """One round; an unexpected error skips the round (counted, logged once per status interval) instead of ending the daemon."""
        try:
            self.take_round(started, echo_rtts_ms_of(self.prober.round()))
        except Exception as exc:  # pylint: disable=broad-except
            self.metrics.probe_errors.inc()
            if started >= self._next_probe_error_log:
                self._next_probe_error_log = started + self.config.status_interval_s
                self.log.exception(events.PROBE_ERROR, error=repr(exc))

    def _next_slot(self, slot, interval):
        """The next slot of the fixed schedule; whole slots already missed are skipped and counted."""
        slot += interval
        late = self.clock() - slot
        if late >= interval:
            missed = int(late // interval)
            slot += missed * interval
            self.metrics.probe_overruns.inc(missed)
        return slot

    def take_round(self, at, echo_rtts_ms):
        """Everything done with one round: metrics, the decision, and what follows from it.

        ``echo_rtts_ms`` is the round as the state machine reads it: per target, the RTT of
        each of its echoes (None when lost).
        """
        self._rounds.inc()
        self._count_echoes(echo_rtts_ms)
        machine = self.machine
        if machine is None:
            # The state machine's own rule, for rounds it does not see (before start-up completes).
            passed = round_passes(echo_rtts_ms, self.config.policy.min_healthy_targets, self.config.policy.max_rtt_ms)
            self._stats.add(echo_rtts_ms, passed)
            if not passed:
                self._failed_rounds.inc()
            if self.cloudwatch is not None:
                self.cloudwatch.record_round(echo_rtts_ms, None, None)
            self._start_state_machine_when_path_known(at)
            return
        decision = machine.observe(at, echo_rtts_ms, self.vpn_checker.healthy if self.vpn_checker is not None else None)
        if self.cloudwatch is not None:
            # Both-paths-down is only known when the VPN path is checked.
            self.cloudwatch.record_round(echo_rtts_ms, decision.path, machine.both_down if self.vpn_checker is not None else None)
        passed = machine.consecutive_failed_rounds == 0
        self._stats.add(echo_rtts_ms, passed)
        if not passed:
            self._failed_rounds.inc()
        if self.coordinator is not None:
            self.coordinator.set_view(dx_state="passing" if passed else "failing", desired_path=decision.path)
            self._follow_pin(decision.path)
        if decision.transition:
            self._on_transition(decision, at, echo_rtts_ms)
        elif decision.alert:
            self._on_alert(decision, echo_rtts_ms)

    def _count_echoes(self, echo_rtts_ms):
        """Per target: every echo sent and lost, and the target's RTT in the round (its fastest echo)."""
        for children, target_rtts in zip(self._children, echo_rtts_ms):
            children.sent.inc(len(target_rtts))
            lost = sum(1 for rtt in target_rtts if rtt is None)
            if lost:
                children.lost.inc(lost)
            rtt = best_rtt_ms(target_rtts)
            children.rtt.set(NAN if rtt is None else rtt / 1000.0)

    # ------------------------------------------------------------------ decisions

    def _start_state_machine_when_path_known(self, at):
        learned = self.actuator.initial_path
        if learned is None:
            return
        path = PATH_VPN if learned == PATH_MIXED else learned
        wall_now = self.wall()
        history = wall_to_monotonic(self.persisted.failover_history, wall_now, at)
        self.machine = FailoverStateMachine(self.config.policy, len(self.config.probe.targets), path=path, failover_history=history, now=at)
        if self.last_transition is not None and self.last_transition.to_path == path:
            # Time in state continues across a restart when the tables agree with the file.
            self.machine.entered_path_at = at - max(0.0, wall_now - self.last_transition.at)
        hold = failback_hold_s(self.config.policy, self.machine.failover_history, at)
        self.metrics.failback_hold.set(hold)
        self.log.info(
            events.INITIAL_PATH, tables_path=learned, path=path, persisted_desired_path=self.persisted.desired_path,
            failovers_remembered=len(self.machine.failover_history), failback_hold_s=hold,
        )
        self.actuator.set_desired(self._route_path(path))
        self._persist()

    def _route_path(self, decided_path):
        """The path the route tables must follow: the operator's pin while one is in force, else the decision."""
        return effective_path(decided_path, self.pin)[0]

    def _follow_pin(self, decided_path):
        """Read the pin from the coordinator's latest read of the group; report a change and move the routes.

        The standby follows it too, so that a takeover keeps the operator's path. The
        state machine goes on deciding meanwhile: when the pin ends, its path applies again.
        """
        pin, event, fields = pin_change(self.pin, self.coordinator.latest_records(), self.wall())
        if event is None:
            return
        self.pin = pin
        path = self._route_path(decided_path)
        self.actuator.set_desired(path)
        self.metrics.pin_in_force.set(1 if pin is not None else 0)
        if pin is not None:
            self.log.warning(events.PIN_IN_FORCE, routes_path=path, decided_path=decided_path, **fields)
        else:
            self.log.warning(events.PIN_ENDED, routes_path=path, decided_path=decided_path, **fields)
        self._notify("%s: routes on %s" % (event, path), dict(fields, event=event, routes_path=path, decided_path=decided_path))

    def _evidence(self, decision, echo_rtts_ms):
        evidence = dict(decision.evidence)
        evidence["targets"] = list(self.config.probe.targets)
        evidence["last_round_rtt_ms"] = target_rtts_for_log(echo_rtts_ms)
        evidence["vpn_healthy"] = self.vpn_checker.healthy if self.vpn_checker is not None else None
        return evidence

    def _on_transition(self, decision, at, echo_rtts_ms):
        previous = "dx" if decision.path == PATH_VPN else "vpn"
        # The route change comes first: everything else here is reporting. A pin in force keeps the routes where it says.
        self.actuator.set_desired(self._route_path(decision.path))
        wall_now = self.wall()
        self.last_transition = Transition(previous, decision.path, decision.reason, wall_now)
        self.metrics.transitions.labels(previous, decision.path, decision.reason).inc()
        if self.cloudwatch is not None:
            self.cloudwatch.count_transition(decision.path)
        self.metrics.last_transition.set(wall_now)
        self.metrics.failback_hold.set(failback_hold_s(self.config.policy, self.machine.failover_history, at))
        evidence = self._evidence(decision, echo_rtts_ms)
        self.log.warning(events.TRANSITION, from_path=previous, to_path=decision.path, reason=decision.reason, evidence=evidence)
        self._persist()
        self._notify("%s -> %s (%s)" % (previous, decision.path, decision.reason), {
            "event": "transition", "from": previous, "to": decision.path, "reason": decision.reason, "at": wall_now, "evidence": evidence,
        })

    def _on_alert(self, decision, echo_rtts_ms):
        self.metrics.alerts.labels(decision.reason).inc()
        evidence = self._evidence(decision, echo_rtts_ms)
        self.log.warning(events.ALERT, alert=decision.reason, path=decision.path, message=decision.alert, evidence=evidence)
        self._notify("alert: %s" % decision.reason, {
            "event": "alert", "alert": decision.reason, "path": decision.path, "message": decision.alert, "evidence": evidence,
        })

    def _notify(self, subject, message):
        """Publish to SNS. Of monitors in pairs only the lease holder does: the standby decides alike, and one message is enough."""
        if self.notifier is None:
            return
        if self.config.coordination.enabled:
            coordinator = self.coordinator
            if coordinator is None or not coordinator.is_writer():
                return
            message["monitor_id"] = self.config.coordination.monitor_id
        message["route_table_ids"] = list(self.config.route_table_ids)
        self.notifier.submit("lz-failover-monitor: " + subject, message)

    # ------------------------------------------------------------------ status

    def report_status(self):
        machine, actuator, now = self.machine, self.actuator, self.clock()
        fields = {
            "path": machine.path if machine else None,
            "applied_path": actuator.book.applied,
            "converged": actuator.book.converged,
            "vpn_healthy": self.vpn_checker.healthy if self.vpn_checker is not None else None,
            "api_consecutive_failures": actuator.failures,
            "api_last_error": actuator.last_error,
            "foreign_routes": len(actuator.foreign_routes),
        }
        if self.coordinator is not None:
            fields.update(self.coordinator.status())
            fields["pinned_path"] = self.pin.path if self.pin is not None else None
        fields.update(self._stats.report())
        if machine is not None:
            hold = failback_hold_s(self.config.policy, machine.failover_history, now)
            self.metrics.failback_hold.set(hold)
            fields.update(
                time_in_state_s=round(now - machine.entered_path_at, 1),
                consecutive_failed_rounds=machine.consecutive_failed_rounds,
                dx_passing_for_s=None if machine.passing_since is None else round(now - machine.passing_since, 1),
                failback_hold_s=hold,
            )
        else:
            fields["waiting_for"] = "the first read of the route tables"
        if self.log_setup is not None:
            self.metrics.log_lines_dropped.set(self.log_setup.dropped)
        self.log.info(events.STATUS, **fields)

    # ------------------------------------------------------------------ reload

    def reload(self):
        """Read the file again; switch to it now, or once AWS shows it can act (``poll_reload``).

        A new configuration that changes what the routes are (route tables, destinations,
        interface, strategy, region, API settings) is first checked against AWS on the
        ``reload-check`` thread; anything else is switched to at once. A newer reload
        replaces a check still under way.
        """
        self.reload_requested = False
        self.pending_reload = None
        self.log.info(events.RELOAD_REQUESTED, config=self.config_path)
        try:
            new = load_config(self.config_path)
        except ValidationError as exc:
            self._reject_reload(exc.problems)
            return
        if new.route_settings() == self.config.route_settings():
            self._switch_to(new)
            return
        self.pending_reload = ReloadCheck(self.config, new, self.ec2_client_factory, self.metrics).start()

    def poll_reload(self):
        """Finish a reload whose check against AWS has ended: refuse it, or warn about dropped tables and switch."""
        check = self.pending_reload
        if check is None or not check.done():
            return
        self.pending_reload = None
        if check.problems:
            self._reject_reload(list(check.problems))
            return
        for route_table_id, routes in sorted(check.left_unmanaged.items()):
            self.log.warning(
                events.ROUTES_LEFT_UNMANAGED, route_table_id=route_table_id, routes=routes,
                message="the new configuration no longer manages %s; its VPN path routes stay until deleted by hand" % route_table_id,
            )
        self._switch_to(check.new)

    def _switch_to(self, new):
        try:
            changed = self._apply_config(new)
        except (ProbeError, OSError) as exc:
            self._reject_reload([getattr(exc, "message", None) or str(exc)])
            return
        self.metrics.config_reloads.labels("applied").inc()
        self.log.info(events.CONFIG_RELOADED, config=self.config_path, changed=changed, summary=new.summary())

    def _reject_reload(self, problems):
        self.metrics.config_reloads.labels("rejected").inc()
        self.log.error(events.CONFIG_RELOAD_REJECTED, config=self.config_path, problems=problems, kept="the running configuration")

    def _apply_config(self, new):
        """Switch to ``new``; sockets are opened before anything is swapped, so a failure changes nothing."""
        old = self.config
        changed = sorted(name for name in new.__dataclass_fields__ if getattr(new, name) != getattr(old, name))
        prober = self._new_prober(new) if new.probe != old.probe else None
        vpn_prober_changed = (new.probe.kind, new.probe.privileged) != (old.probe.kind, old.probe.privileged)
        try:
            vpn_checker = self._new_vpn_checker(new) if (new.vpn_check != old.vpn_check or vpn_prober_changed) else self.vpn_checker
        except (ProbeError, OSError):
            if prober is not None:
                prober.close()
            raise
        self.config = new
        if prober is not None:
            self.prober.close()
            self.prober = prober
            self.bind_targets(new)
        if vpn_checker is not self.vpn_checker:
            if self.vpn_checker is not None:
                self.vpn_checker.stop()
            self.vpn_checker = vpn_checker.start() if vpn_checker is not None else None
        self._rebuild_state_machine(old, new)
        self.actuator.reconfigure(new)
        self._reconfigure_side_services(old, new)
        return changed

    def _rebuild_state_machine(self, old, new):
        """New thresholds or targets: a new state machine on the same path, keeping the failover history."""
        if self.machine is None or (new.policy == old.policy and new.probe.targets == old.probe.targets):
            return
        now = self.clock()
        history = list(self.machine.failover_history)
        machine = FailoverStateMachine(new.policy, len(new.probe.targets), path=self.machine.path, failover_history=history, now=now)
        machine.entered_path_at = self.machine.entered_path_at
        self.machine = machine

    def _reconfigure_side_services(self, old, new):
        if self.log_setup is not None:
            self.log_setup.set_level(new.log_level)
        self.writer.path = new.state_file
        if new.notifications != old.notifications or new.api != old.api:
            if self.notifier is not None:
                self.notifier.stop(timeout=1.0)
            self.notifier = self._new_notifier(new)
        if new.cloudwatch != old.cloudwatch:
            # Not waited for: its last flush may be slow, and the probe loop is waiting.
            if self.cloudwatch is not None:
                self.cloudwatch.stop(timeout=0)
            self.cloudwatch = self._new_cloudwatch(new)
        if new.metrics != old.metrics:
            self._restart_metrics(old, new)
        if new.coordination != old.coordination or (new.coordination.enabled and new.api != old.api):
            # The old lease is released first (its writer window closes at once), the new one taken at its first round.
            if self.coordinator is not None:
                self.coordinator.stop()
                self.coordinator = None
            self.coordinator = self._new_coordinator(new)

    def _restart_metrics(self, old, new):
        try:
            if new.metrics.enabled:
                self.metrics.serve(new.metrics.address, new.metrics.port)
            else:
                self.metrics.stop_serving()
        except OSError as exc:
            self.log.error(events.METRICS_LISTEN_FAILED, address=new.metrics.address, port=new.metrics.port, error=str(exc))
            if old.metrics.enabled:
                try:
                    self.metrics.serve(old.metrics.address, old.metrics.port)
                except OSError:
                    pass  # already reported; the daemon keeps probing without an endpoint


def run_daemon(config_path, log, log_setup):
    """Load the configuration and run until stopped; return the exit code."""
    try:
        config = load_config(config_path)
    except ValidationError as exc:
        log.error(events.CONFIG_INVALID, config=config_path, problems=exc.problems)
        return EXIT_FAILED
    if log_setup is not None:
        log_setup.set_level(config.log_level)
    return Monitor(config, config_path, log, log_setup).run()
