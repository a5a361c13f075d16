# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The actuator: a thread that keeps the route tables on the desired path.

The probe loop only ever sets the desired path; this thread does every EC2 call, so
throttling, 5xx answers, timeouts or expired credentials delay the route change but
never a probe round. It is level-triggered: each attempt reads the tables afresh,
plans from what they show (``plan_routes`` and its ownership rules) and applies the
plan. So it repairs drift, resumes a plan a crash interrupted, and issues no call a
table does not need, which is what makes a restart at any moment safe.

* Route calls are paced (``api.max_parallel_calls``, ``api.mutating_*``): tables in
  the order of ``route_table_ids``, parallel calls while the client-side bucket has
  tokens, a throttled call retried after a short wait (``ec2.apply_plan``).
* After a failed attempt it retries with capped exponential backoff (with jitter).
* A foreign route on a managed destination (``RouteConflictError``) is reported and
  left alone; the attempt is repeated every reconcile interval. A route that became
  foreign between the read and its delete or replace is skipped (``ec2.RouteRecheck``),
  logged, and the attempt does not count as converged.
* A plan stopped by a failed call logs what was not applied; the calls made stay and
  the next attempt plans only what is still missing.
* After a successful attempt the tables are read again every ``reconcile_interval_s``.
* A new desired path or a new configuration wakes it at once.
* With a coordination table, only the lease's writer changes routes: ``may_write``
  (the coordinator's ``is_writer``) is asked before the plan and before each route
  call (``ec2.apply_plan``). A standby still reads the tables and reports what they
  show (observe only); it logs ``not_writer`` once per change of role and converges
  at once when it becomes the writer (``wake``).
"""

from __future__ import annotations

import random
import threading
import time

from .aws import ec2_client
from .aws import route_pacer
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import OUTCOME_SKIPPED
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import jittered_backoff
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import LeaseLostError
from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import find_conflicts
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from ansible_collections.localzones.failover.plugins.module_utils import events

BACKOFF_BASE_S = 0.2
TRIGGER_DECISION = "decision"
TRIGGER_DRIFT = "drift"


def backoff_delay(failures, cap, rng=random.random):
    """Capped exponential backoff with jitter: 0.2, 0.4, 0.8 ... s up to ``cap``, each scaled by 0.5..1."""
    return jittered_backoff(failures, BACKOFF_BASE_S, cap, rng)


class Convergence:
    """Desired versus applied path, and how long the tables took to follow a decision.

    ``desired`` is set by decisions, ``applied`` by what the latest read (or a completed
    plan) showed. Times are whatever clock the caller uses.
    """

    def __init__(self):
        self.desired = None
        self.desired_since = None
        self.applied = None
        self._settled = None  # the desired path the tables last matched

    def want(self, path, at):
        if path != self.desired:
            self.desired = path
            self.desired_since = at

    def observe(self, path):
        self.applied = path

    @property
    def converged(self):
        return self.desired is not None and self.applied == self.desired

    def trigger(self, path):
        """Why a plan for ``path`` has actions: a decision not yet applied, or drift after it was."""
        return TRIGGER_DRIFT if self._settled == path else TRIGGER_DECISION

    def settle(self, path, at):
        """The tables now show ``path``; return seconds since the decision for it, the first time only.

        ``path`` is what was planned for; when the desired path moved on meanwhile, the
        newer decision is not settled by it.
        """
        self.applied = path
        if path != self.desired or self._settled == path:
            return None
        self._settled = path
        return None if self.desired_since is None else at - self.desired_since


def always_writer():
    """``may_write`` of a monitor without a coordination table: it is the only writer."""
    return True


class StopRequested(Exception):
    """Raised between two route calls when the daemon is stopping: no further call is made."""


class Actuator:  # pylint: disable=too-many-instance-attributes
    """Converges the route tables to the latest desired path (see the module docstring)."""

    def __init__(  # pylint: disable=too-many-arguments
        self, config, log, metrics, client_factory=ec2_client, clock=time.monotonic, rng=random.random, on_api_error=None,
        may_write=always_writer,
    ):
        self._config = config
        self._on_api_error = on_api_error
        self._may_write = may_write
        self._observing_only = False  # the latest plan with actions was held back: not the writer
        self._log = log
        self._metrics = metrics
        self._client_factory = client_factory
        self._clock = clock
        self._rng = rng
        self._client = None
        self._pacer = None
        self._condition = threading.Condition()
        self._wake = False
        self._stopping = False
        self.book = Convergence()
        self.initial_path = None  # what the first successful read showed
        self.failures = 0  # consecutive failed attempts
        self._failing_since = None  # the clock when the current run of failed attempts began
        self.last_error = None
        self.foreign_routes = ()
        self._last_warnings = ()
        self._last_notes = ()
        self._pass = threading.Lock()  # held during each read-plan-apply pass
        self._thread = threading.Thread(target=self._run, name="actuator", daemon=True)

    # -- interface for the probe loop (any thread)

    def start(self):
        self._thread.start()
        return self

    def set_desired(self, path):
        with self._condition:
            self.book.want(path, self._clock())
            self._wake = True
            self._condition.notify()
        self._metrics.set_path(self._metrics.desired_path, path)
        self._metrics.routes_converged.set(1 if self.book.converged else 0)

    def reconfigure(self, config):
        with self._condition:
            if config.route_settings() != self._config.route_settings():
                self._client = None
                self._pacer = None
            self._config = config
            self._wake = True
            self._condition.notify()

    def wake(self):
        """Run an attempt now (this monitor just became the writer)."""
        with self._condition:
            self._wake = True
            self._condition.notify()

    def stop(self, timeout=1.0):
        """Make no further EC2 call; wait briefly for a call in flight."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def idle(self, timeout):
        """True once no pass is under way (so no route call is in flight); False if one still is after ``timeout``."""
        if not self._pass.acquire(timeout=timeout):  # pylint: disable=consider-using-with
            return False
        self._pass.release()
        return True

    # -- the thread

    def _run(self):
        next_attempt = self._clock()
        while True:
            with self._condition:
                while not self._stopping and not self._wake and self._clock() < next_attempt:
                    self._condition.wait(next_attempt - self._clock())
                if self._stopping:
                    return
                self._wake = False
                config, desired = self._config, self.book.desired
            with self._pass:
                next_attempt = self._clock() + self.attempt(config, desired)

    def attempt(self, config, desired):
        """One read-plan-apply pass; return the seconds until the next one."""
        try:
            self._converge(config, desired)
        except StopRequested:
            return 0.0
        except LeaseLostError as exc:
            self._not_writer(plan_actions=None, completed=len(exc.completed))
            return config.reconcile_interval_s
        except RouteConflictError as exc:
            self._metrics.route_conflicts.inc()
            self._log.error(
                events.ROUTE_CONFLICT, desired_path=desired, conflicts=exc.details.get("conflicts"), message=exc.message,
                retry_in_s=config.reconcile_interval_s,
            )
            return config.reconcile_interval_s
        except ValidationError as exc:
            self._log.error(events.ROUTE_TABLES_INVALID, problems=exc.problems, retry_in_s=config.reconcile_interval_s)
            return config.reconcile_interval_s
        except AwsApiError as exc:
            return self._failed(config, exc.operation, exc.code, exc.message)
        except Exception as exc:  # pylint: disable=broad-except
            # Never let the actuator die: a surprise is logged with its traceback and retried.
            self._log.exception(events.ACTUATOR_ERROR, error=repr(exc))
            return self._failed(config, "unknown", type(exc).__name__, str(exc))
        self.failures = 0
        self._failing_since = None
        self.last_error = None
        return config.reconcile_interval_s

    def failing_for(self):
        """Seconds since EC2 attempts began to fail without a break (None: the latest one succeeded)."""
        since = self._failing_since
        return None if since is None else self._clock() - since

    def _failed(self, config, operation, code, message):
        self.failures += 1
        if self._failing_since is None:
            self._failing_since = self._clock()
        self.last_error = code
        self._metrics.api_errors.labels(operation, code).inc()
        if self._on_api_error is not None:
            self._on_api_error()
        delay = backoff_delay(self.failures, config.api.retry_backoff_max_s, self._rng)
        self._log.warning(events.API_ERROR, operation=operation, code=code, message=message, consecutive_failures=self.failures, retry_in_s=round(delay, 3))
        return delay

    def _ec2(self, config):
        """The EC2 client and the pacer of its route calls, made again after a settings change."""
        with self._condition:
            client, pacer = self._client, self._pacer
        if client is None:
            client, pacer = self._client_factory(config, self._metrics), route_pacer(config)
            with self._condition:
                self._client, self._pacer = client, pacer
        return client, pacer

    def _converge(self, config, desired):
        client, pacer = self._ec2(config)
        snapshot = load_snapshot(
            client, config.route_table_ids, config.destination_cidrs, config.vpn_eni_id, config.probe_route_table_id,
            config.route_strategy, config.prefix_list_id, config.routes_per_table_quota,
        )
        self._observe(snapshot)
        if desired is None:
            return  # start-up: the probe loop picks the path from initial_path first
        plan = plan_routes(snapshot.tables, snapshot.destinations, desired, snapshot.ownership, snapshot.route_strategy)
        self._report_notes(plan.notes)
        writer = self._may_write()
        if writer:
            self._observing_only = False
        if plan.changed:
            if not writer:
                self._not_writer(plan_actions=len(plan.actions))
                return  # observe only: the writer of the group changes the tables
            if not self._apply(client, pacer, plan):
                return  # a route changed under the plan was skipped: the next attempt reads again (a conflict, or converges)
        with self._condition:
            latency = self.book.settle(desired, self._clock())
            converged = self.book.converged
        self._metrics.set_path(self._metrics.active_path, desired)
        self._metrics.routes_converged.set(1 if converged else 0)
        if plan.changed or latency is not None:
            self._log.info(events.ROUTES_CONVERGED, path=desired, actions=len(plan.actions),
                           since_decision_ms=_ms(None if latency is None else latency * 1000.0))
        if latency is not None:
            self._metrics.convergence_latency.observe(latency)

    def _observe(self, snapshot):
        path = path_of(snapshot.tables, snapshot.destinations, snapshot.ownership)
        with self._condition:
            self.book.observe(path)
        self.foreign_routes = tuple(conflict.as_dict() for conflict in find_conflicts(snapshot.tables, snapshot.destinations, snapshot.ownership))
        self._metrics.foreign_routes.set(len(self.foreign_routes))
        self._metrics.set_path(self._metrics.active_path, path)
        self._metrics.routes_converged.set(1 if self.book.converged else 0)
        if snapshot.warnings != self._last_warnings:
            self._last_warnings = snapshot.warnings
            for warning in snapshot.warnings:
                self._log.warning(events.ROUTE_TABLES_WARNING, message=warning)
        if self.initial_path is None:
            self.initial_path = path

    def _report_notes(self, notes):
        if notes != self._last_notes:
            self._last_notes = notes
            for note in notes:
                self._log.info(events.ROUTING_NOTE, message=note)

    def _apply(self, client, pacer, plan):
        with self._condition:
            trigger = self.book.trigger(plan.path)
        if trigger == TRIGGER_DRIFT:
            self._metrics.drift_repairs.inc()
            self._log.warning(events.DRIFT_DETECTED, path=plan.path, actions=[action.as_dict() for action in plan.actions])
        try:
            outcomes = apply_plan(client, plan, on_outcome=self._on_outcome, pacer=pacer, may_write=self._may_write)
        except AwsApiError as exc:
            failed = exc.failed_action
            if failed is None:
                raise  # not stopped at an action of the plan: nothing to report per action
            self._metrics.route_actions.labels(failed.action, "failed").inc()
            # The applied calls were each logged as they completed; the rest is named here, and the next attempt converges.
            self._log.warning(
                events.ROUTE_ACTION, outcome="failed", code=exc.code, latency_ms=_ms(exc.latency_ms), trigger=trigger,
                applied=len(exc.completed), not_applied=[action.as_dict() for action in exc.not_applied], **failed.as_dict(),
            )
            raise
        return all(outcome.outcome != OUTCOME_SKIPPED for outcome in outcomes)

    def _not_writer(self, plan_actions=None, completed=None):
        """Log once per change of role that a plan is held back (or was cut short) because this monitor is not the writer."""
        if self._observing_only:
            return
        self._observing_only = True
        fields = {"completed_actions": completed} if completed is not None else {"held_actions": plan_actions}
        self._log.warning(events.NOT_WRITER, message="not the writer of the failover group: route tables are read, not changed", **fields)

    def _on_outcome(self, outcome):
        self._metrics.route_actions.labels(outcome.action.action, outcome.outcome).inc()
        if outcome.outcome == OUTCOME_SKIPPED:
            self._log.warning(events.ROUTE_ACTION, **outcome.as_dict())  # no call was made, so no latency to observe
        else:
            self._metrics.route_action_latency.observe(outcome.latency_ms / 1000.0)
            self._log.info(events.ROUTE_ACTION, **outcome.as_dict())
        with self._condition:
            stopping = self._stopping
        if stopping:
            raise StopRequested()


def _ms(value):
    return None if value is None else round(value, 1)
