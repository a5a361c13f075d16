# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's persisted state: what a restart needs besides the route tables.

The file holds the failover history (for flap dampening), the last desired path and
the last transition, all with wall-clock times (monotonic clocks restart at boot).
The route tables stay the truth for the current path; this file only keeps the
memory a fresh process would otherwise lack.

Writes are atomic: a temporary file in the same directory, written, fsynced, renamed
over the old one, then the directory fsynced; mode 0600. The temporary file is
created new (O_EXCL) and the rename replaces whatever name is at the path, so a
symbolic link planted there is replaced, never followed.

Reading opens the path without following a symbolic link (O_NOFOLLOW), and only a
regular file of at most MAX_STATE_BYTES is read. A file that cannot be read or
parsed, or is refused, is reported and ignored, never fatal.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from dataclasses import field

FORMAT_VERSION = 1
# A state file of ours holds a few hundred bytes (a history of failovers within the
# dampening window); anything much bigger is not ours and is not read into memory.
MAX_STATE_BYTES = 1024 * 1024
PATHS = ("dx", "vpn")


class StateFileError(Exception):
    """The state file exists but cannot be used."""


@dataclass(frozen=True)
class Transition:
    from_path: str
    to_path: str
    reason: str
    at: float  # wall clock (time.time())

    def as_dict(self):
        return {"from": self.from_path, "to": self.to_path, "reason": self.reason, "at": self.at}


@dataclass(frozen=True)
class PersistedState:
    desired_path: str = None
    last_transition: Transition = None
    failover_history: tuple = field(default_factory=tuple)  # wall-clock times of failovers to the VPN

    def as_dict(self, saved_at):
        return {
            "version": FORMAT_VERSION,
            "saved_at": saved_at,
            "desired_path": self.desired_path,
            "last_transition": self.last_transition.as_dict() if self.last_transition else None,
            "failover_history": list(self.failover_history),
        }


# --------------------------------------------------------------------------- clocks


def wall_to_monotonic(wall_times, wall_now, monotonic_now):
    """Monotonic equivalents of wall-clock times; times in the future (clock stepped back) become now."""
    return tuple(monotonic_now - max(0.0, wall_now - wall) for wall in wall_times)


def monotonic_to_wall(monotonic_times, wall_now, monotonic_now):
    return tuple(wall_now - (monotonic_now - moment) for moment in monotonic_times)


# --------------------------------------------------------------------------- reading


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StateFileError("%s must be a number, got %r" % (name, value))
    return float(value)


def _path(value, name, allow_none=True):
    if value is None and allow_none:
        return None
    if value not in PATHS:
        raise StateFileError("%s must be one of %s, got %r" % (name, ", ".join(PATHS), value))
    return value


def _transition(raw):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise StateFileError("last_transition must be an object, got %r" % (raw,))
    reason = raw.get("reason")
    if not isinstance(reason, str):
        raise StateFileError("last_transition.reason must be a string, got %r" % (reason,))
    return Transition(
        from_path=_path(raw.get("from"), "last_transition.from", allow_none=False),
        to_path=_path(raw.get("to"), "last_transition.to", allow_none=False),
        reason=reason,
        at=_number(raw.get("at"), "last_transition.at"),
    )


def parse_state(text):
    """PersistedState from the file's text; StateFileError when it is not a state file of ours."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise StateFileError("not JSON: %s" % exc) from exc
    if not isinstance(raw, dict):
        raise StateFileError("not a JSON object")
    if raw.get("version") != FORMAT_VERSION:
        raise StateFileError("unknown format version %r (expected %d)" % (raw.get("version"), FORMAT_VERSION))
    history = raw.get("failover_history", [])
    if not isinstance(history, list):
        raise StateFileError("failover_history must be a list, got %r" % (history,))
    return PersistedState(
        desired_path=_path(raw.get("desired_path"), "desired_path"),
        last_transition=_transition(raw.get("last_transition")),
        failover_history=tuple(sorted(_number(item, "failover_history[]") for item in history)),
    )


def _open_no_follow(path):
    """A read descriptor of ``path`` itself: a symbolic link there is refused (ELOOP), a FIFO does not block."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateFileError("it is a symbolic link; the state file must be a regular file") from exc
        raise


def _read_bounded(descriptor):
    """The text of a regular file of at most MAX_STATE_BYTES (StateFileError otherwise)."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        raise StateFileError("it is not a regular file")
    if status.st_size > MAX_STATE_BYTES:
        raise StateFileError("it holds %d bytes, more than the %d a state file may hold; not read" % (status.st_size, MAX_STATE_BYTES))
    with os.fdopen(os.dup(descriptor), "rb") as handle:
        data = handle.read(MAX_STATE_BYTES + 1)
    if len(data) > MAX_STATE_BYTES:  # grew after the fstat
        raise StateFileError("it holds more than the %d bytes a state file may hold; not read" % MAX_STATE_BYTES)
    return data.decode("utf-8")


def load_state(path):
    """The PersistedState at ``path``; None when there is no file. StateFileError when unusable or refused."""
    try:
        descriptor = _open_no_follow(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError("cannot read it: %s" % exc) from exc
    try:
        text = _read_bounded(descriptor)
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError("cannot read it: %s" % exc) from exc
    finally:
        os.close(descriptor)
    return parse_state(text)


# --------------------------------------------------------------------------- writing


def save_state(path, state, saved_at):
    """Write ``state`` to ``path`` atomically with mode 0600 (see the module docstring)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # mkstemp already does; say it for readers and odd umasks
            json.dump(state.as_dict(saved_at), handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class StateWriter:
    """Writes the latest submitted state from a background thread, so fsync never delays probing.

    Submissions coalesce: only the newest pending state is written.
    """

    def __init__(self, path, clock, on_error):
        self.path = path
        self._clock = clock  # wall clock, for saved_at
        self._on_error = on_error
        self._condition = threading.Condition()
        self._pending = None
        self._stopping = False
        self.writes = 0
        self._thread = threading.Thread(target=self._run, name="state-writer", daemon=True)
        self._thread.start()

    def submit(self, state):
        with self._condition:
            self._pending = state
            self._condition.notify()

    def _run(self):
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                state, self._pending = self._pending, None
                path = self.path
                if state is None:
                    return
            try:
                save_state(path, state, self._clock())
                self.writes += 1
            except OSError as exc:
                self._on_error(path, exc)

    def close(self, timeout=5.0):
        """Write what is pending, then stop."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)
