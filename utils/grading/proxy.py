"""The grader's side of a student's process: start it, feed it cells, call into it.

``StudentProcess`` owns one sandboxed Python process (``worker.py``) for one submission:

- it prepares a private folder (a copy of ``utils`` and an empty working directory), has
  the fork server (``forkserver.py``) fork a worker with two dedicated pipes, and sends it
  the sandbox plan (what to hide, which uid to become, the limits, a scrubbed environment);
- it runs the notebook's code cells one by one, each with a time limit. A cell that hangs
  or kills the process is skipped, the process is started again and the remaining cells
  run, so one runaway cell costs only what that cell defines;
- it forwards calls from the hidden tests with a per-call time limit and a total limit
  for the submission. A call that hangs, crashes or exhausts memory ends with
  ``WorkerLost``; the next call starts a fresh process.

``RemoteStudent`` is the ``student`` object the hidden tests receive (see ``student.py``).
"""

import contextlib
import fcntl
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from . import channel, plain, sandbox, scratch
from .cgroup import ControlGroup, remove_leftovers
from .forkserver import ForkServer
from .student import GraderError, Student, WorkerLost

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository (holds utils/)
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MALLOC_ARENA_MAX": "2", "DLBOOK_GRADER": "1"}  # the whole environment student code sees
SANDBOX_UIDS = range(61000, 62000)  # unused uids the sandboxes take when the grader runs as root
UID_LOCKS = pathlib.Path("/run" if os.path.isdir("/run") else tempfile.gettempdir()) / "dlbook-grader-uids"
MAX_RESTARTS = 4                    # after this many crashes, the remaining tests fail at once
LOG_TAIL_CHARS = 2000

SIGNAL_REASONS = {
    signal.SIGKILL: "was killed (it most likely ran out of memory)",
    signal.SIGXCPU: "used up its CPU-time limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGABRT: "aborted (often a library running out of memory)",
}


@dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0     # one call from a hidden test into the student's code
    cell_seconds: float = 60.0     # one notebook cell
    total_seconds: float = 300.0   # everything for one submission, restarts included
    memory_mb: int = 3072          # address space of the student's process (torch alone maps ~0.7 GB)
    startup_seconds: float = 120.0  # starting Python and importing torch on a busy machine


class _UidPool:
    """Unused uids for sandboxes, each held by one running sandbox on this machine, even across
    several grader processes: a uid is taken by an exclusive lock on ``UID_LOCKS/<uid>``, which the
    kernel releases when its holder closes it or dies."""

    def __init__(self, candidates):
        self._candidates = [uid for uid in candidates if not _uid_exists(uid)]
        self._held = {}  # uid -> the open lock file
        self._lock = threading.Lock()

    def take(self):
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        with self._lock:
            for uid in self._candidates:
                if uid in self._held:
                    continue
                fd = os.open(UID_LOCKS / str(uid), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                self._held[uid] = fd
                return uid
        raise GraderError("no unused uid left for another sandbox")

    def give_back(self, uid):
        with self._lock:
            os.close(self._held.pop(uid))


def _uid_exists(uid):
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


_UIDS = _UidPool(SANDBOX_UIDS) if os.geteuid() == 0 else None


# Top-level folders a sandbox keeps: the system's programs, libraries and settings. All others are
# covered, so another checkout of the book elsewhere on the machine (with its solutions/) stays
# out of reach too; the Python installation and the sandbox's own folders are brought back.
SYSTEM_FOLDERS = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys"}


def default_hidden_paths():
    """Folders no sandbox may read: every top-level folder but the system's, the repository, home, temp."""
    top_level = [path for path in pathlib.Path("/").iterdir()
                 if path.is_dir() and not path.is_symlink() and path.name not in SYSTEM_FOLDERS]
    return [ROOT, pathlib.Path.home(), pathlib.Path(tempfile.gettempdir()), *top_level]


def python_path():
    """The grader's import path, minus the repository: where a sandbox finds numpy and torch."""
    hidden = {os.path.realpath(ROOT), os.path.realpath(os.getcwd())}
    return [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) not in hidden]


def _private_copy_of_utils(prefix):
    """A new temporary folder holding a copy of ``utils``; ``GraderError`` if the disk refuses."""
    folder = None
    try:
        folder = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
        os.chmod(folder, 0o755)  # readable by the sandbox uid (Python lists it to import utils)
        shutil.copytree(ROOT / "utils", folder / "utils",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    except OSError as error:
        if folder is not None:
            scratch.remove_tree(folder)
        raise GraderError(f"cannot prepare a sandbox folder in {tempfile.gettempdir()}: {error}") from None
    return folder


@contextlib.contextmanager
def fork_server(limits):
    """A fork server for one grading run (see ``forkserver.py``), removed afterwards."""
    folder = _private_copy_of_utils("dlbook-forkserver-")
    server = ForkServer(folder, python_path(), {**SANDBOX_ENV, "HOME": str(folder)}, limits.startup_seconds)
    try:
        yield server
    finally:
        server.close()
        scratch.remove_tree(folder)
        remove_leftovers()


class StudentProcess:
    """One submission's sandboxed process, restarted when the student's code kills it."""

    def __init__(self, cells, limits, fork_server, hide=()):
        self.cells = cells                  # [(cell number, source)]
        self.limits = limits
        self.fork_server = fork_server
        self.always_hidden = {os.path.realpath(p) for p in hide}  # tests, submissions, results: never shown
        self.hide = sorted(self.always_hidden | {os.path.realpath(p) for p in default_hidden_paths()})
        self.deadline = time.monotonic() + limits.total_seconds
        self.cell_notes = {}                # cell number -> what went wrong there (for the report)
        self.skipped = set()                # cells that hung or killed the process: not run again
        self.isolation = None               # the sandbox's report of its fences
        self.generation = 0                 # how many processes were started
        self.process = None
        self.request_id = 0                 # numbers the requests; a reply must carry its request's
        self.folder = _private_copy_of_utils("dlbook-grade-")  # the set-up cell finds ../utils there
        self.uid = _UIDS.take() if _UIDS else None
        self.control_group = ControlGroup.create(self.folder.name)  # None where none can be made

    # -- lifetime ------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._stop()
        scratch.remove_tree(self.folder)
        if self.control_group is not None:
            self.control_group.remove()
            self.control_group = None
        if self.uid is not None:
            _UIDS.give_back(self.uid)
            self.uid = None

    def time_left(self):
        return self.deadline - time.monotonic()

    # -- calls from the tests --------------------------------------------------------------

    def call(self, request):
        """Send one call request and return the raw reply, or raise ``WorkerLost``."""
        if self.process is None:
            self._start()
        deadline = min(time.monotonic() + self.limits.call_seconds, self.deadline)
        try:
            return self._exchange(request, deadline)
        except channel.ChannelTimeout:
            self._stop()
            reason = f"did not return within {self.limits.call_seconds:g} s"
            raise WorkerLost(self._time_reason(reason)) from None
        except channel.ChannelClosed:
            raise WorkerLost(self._stop(expect_exit=True)) from None
        except plain.ProtocolError as error:
            self._stop()
            raise WorkerLost(f"garbled the grader's channel ({error})") from None

    def _exchange(self, request, deadline):
        """Send ``request`` under a new number; return the reply that carries the same number."""
        self.request_id += 1
        channel.send(self.to_worker, request, deadline, request_id=self.request_id)
        return channel.receive(self.from_worker, deadline, request_id=self.request_id)

    # -- starting: process, then cells ---------------------------------------------------------

    def _start(self):
        """Start a process and run the notebook's cells in it, skipping cells that broke it before."""
        while True:
            if self.generation > MAX_RESTARTS:
                raise WorkerLost(f"crashed or hung {MAX_RESTARTS} times; the remaining tests were not run")
            if self.time_left() <= 0:
                raise WorkerLost(self._time_reason("ran out of time"))
            self._spawn()
            broken = self._run_cells()
            if broken is None:
                return
            number, reason = broken
            self.skipped.add(number)
            self.cell_notes[number] = f"cell {number} was skipped: it {reason}"

    def _run_cells(self):
        """Run every cell not yet skipped; return ``(cell number, reason)`` if one broke the process."""
        for number, source in self.cells:
            if number in self.skipped:
                continue
            deadline = min(time.monotonic() + self.limits.cell_seconds, self.deadline)
            try:
                reply = self._exchange({"op": "exec", "number": number, "source": source}, deadline)
            except channel.ChannelTimeout:
                self._stop()
                return number, self._time_reason(f"ran longer than {self.limits.cell_seconds:g} s")
            except channel.ChannelClosed:
                return number, self._stop(expect_exit=True)
            except plain.ProtocolError as error:
                self._stop()
                return number, f"garbled the grader's channel ({error})"
            error = reply.get("error") if isinstance(reply, dict) else None
            if isinstance(error, dict):
                where = f" ({error.get('where')})" if error.get("where") else ""
                self.cell_notes[number] = (f"cell {number} raised {str(error.get('type'))[:100]}: "
                                           f"{str(error.get('message'))[:300]}{where}")
        return None

    def _time_reason(self, reason):
        """``reason``, unless the submission's total time ran out first: then that."""
        if self.time_left() <= 0:
            return f"used up the submission's total time limit of {self.limits.total_seconds:g} s"
        return reason

    def _spawn(self):
        self.generation += 1
        work = self.folder / "work"
        scratch.remove_tree(work)
        work.mkdir(mode=0o700)
        if self.uid is not None:
            os.chown(work, self.uid, self.uid)
        log_path = self.folder / "output.log"
        to_worker_read, self.to_worker = os.pipe()
        self.from_worker, from_worker_write = os.pipe()
        os.set_blocking(self.to_worker, False)
        try:
            with open(log_path, "wb") as log:
                self.process = self.fork_server.spawn(to_worker_read, from_worker_write, log.fileno())
        except OSError as error:
            for fd in (self.to_worker, self.from_worker):
                os.close(fd)
            raise GraderError(f"the fork server failed ({error}):\n{self.fork_server.log_tail()}") from None
        finally:
            os.close(to_worker_read)
            os.close(from_worker_write)
        deadline = time.monotonic() + self.limits.startup_seconds
        try:
            if self.control_group is not None:  # before any student code: its children inherit it
                self.control_group.add(self.process.pid)
            channel.send(self.to_worker, self._setup_message(work), deadline)
            ready = channel.receive(self.from_worker, deadline, request_id=0)
            self.isolation = ready["ready"]
            if self.control_group is not None:
                self.isolation["isolated"].append(self.control_group.describe())
            elif self.uid is not None:
                self.isolation["missing"].append("control group (no writable cgroup controller)")
        except (OSError, channel.ChannelClosed, channel.ChannelTimeout, plain.ProtocolError, KeyError,
                TypeError):
            self._stop()
            tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
            raise GraderError(f"the sandboxed Python process did not start:\n{tail}") from None

    def _setup_message(self, work):
        sys_path = python_path()
        needed = {os.path.realpath(p) for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys_path,
                                                 os.path.dirname(os.path.realpath(sys.executable)),
                                                 self.folder]}
        reveal = [p for p in sorted(needed) if not any(sandbox.is_under(p, h) for h in self.always_hidden)]
        plan = {"namespaces": sys.platform.startswith("linux"), "uid": self.uid, "work": str(work),
                "hide": self.hide, "reveal": reveal}
        limits = {"memory_mb": self.limits.memory_mb,
                  "cpu_seconds": int(self.limits.total_seconds) + 10}
        return {"plan": plan, "limits": limits, "sys_path": [str(self.folder), *sys_path],
                "env": {**SANDBOX_ENV, "HOME": str(work), "TMPDIR": str(work)}}

    def _stop(self, expect_exit=False):
        """Stop the process and everything it started. With ``expect_exit`` (its pipe closed),
        first give it a moment to end by itself; returns why it ended, for the report."""
        process, self.process = self.process, None
        if process is None:
            return "had already stopped"
        isolated = self.isolation is not None and sandbox.OWN_PIDS in self.isolation["isolated"]
        try:
            process.wait(1 if expect_exit else 0)
        except subprocess.TimeoutExpired:
            pass
        ended_by_itself = process.returncode is not None
        if isolated:  # the supervisor kills the whole process-id namespace
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        else:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        process.wait()
        if self.uid is not None:
            _kill_processes_of(self.uid)
        for fd in (self.to_worker, self.from_worker):
            os.close(fd)
        if ended_by_itself:
            return _exit_reason(process.returncode)
        return "closed its connection to the grader" if expect_exit else "was stopped by the grader"


def _kill_processes_of(uid):
    """Kill whatever still runs under a sandbox's own uid (nothing else uses it), until nothing does."""
    for _ in range(10):
        found = False
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), signal.SIGKILL)
                    found = True
            except OSError:
                continue  # it ended meanwhile
        if not found:
            return


def _exit_reason(code):
    signal_number = -code if code < 0 else code - 128 if code > 128 else None
    if signal_number in SIGNAL_REASONS:
        return SIGNAL_REASONS[signal_number]
    if signal_number is not None:
        return f"was ended by signal {signal_number}"
    return f"ended the Python process (exit status {code}, e.g. sys.exit or os._exit)"


class RemoteStudent(Student):
    """The ``student`` of a hidden test: the student's names, reached in their sandboxed process."""

    def __init__(self, process):
        self._process = process

    def _send(self, request):
        target = request.get("target")
        if isinstance(target, plain.Handle) and (self._process.process is None
                                                 or target.generation != self._process.generation):
            raise WorkerLost("had to be restarted after an earlier failure, which lost this object")
        reply = self._process.call(request)
        body = reply.get("ok") if isinstance(reply, dict) else None
        if isinstance(body, plain.Handle):
            body.generation = self._process.generation
        return reply
