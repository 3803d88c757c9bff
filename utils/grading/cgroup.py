"""A control group per sandbox: a submission and every process it starts share one CPU and a
bounded number of tasks, however many processes or sessions it creates.

Resource limits (``sandbox.restrict``) count per process, or per uid for the number of
processes, so 60 processes spinning in 60 sessions would still get 60 shares of the machine
and starve the submissions graded next to them. A control group counts them together. The
grader (as root, on Linux) creates one under ``dlbook-grader/`` in each controller it may
write to, cgroup v2 or v1, and moves the student's process into it before any student code
runs; its children inherit it. Where no controller is writable (a normal user, macOS, a
locked-down container) ``create`` returns ``None`` and only the resource limits apply.
"""

import contextlib
import os
import pathlib
import time

ROOT = pathlib.Path("/sys/fs/cgroup")
PARENT = "dlbook-grader"
CPU_PERIOD_US = 100_000
CPUS = 1           # a submission's processes together get at most this many CPUs
MAX_TASKS = 32     # processes and threads, together (torch's own threads included)


def _writable(folder):
    return folder.is_dir() and os.access(folder, os.W_OK)


def _v2_root():
    return ROOT if (ROOT / "cgroup.controllers").is_file() and _writable(ROOT) else None


class ControlGroup:
    """One sandbox's control group(s); ``folders`` holds one per controller (one for v2)."""

    def __init__(self, folders):
        self.folders = folders

    @classmethod
    def create(cls, name):
        """A new group named ``name`` with the CPU and task limits, or ``None`` if none can be made."""
        if os.geteuid() != 0:
            return None
        folders = []
        v2 = _v2_root()
        settings = {"cpu.max": f"{CPUS * CPU_PERIOD_US} {CPU_PERIOD_US}", "pids.max": str(MAX_TASKS),
                    "cpu.cfs_period_us": str(CPU_PERIOD_US), "cpu.cfs_quota_us": str(CPUS * CPU_PERIOD_US)}
        if v2 is not None:
            with contextlib.suppress(OSError):
                parent = v2 / PARENT
                parent.mkdir(exist_ok=True)
                (v2 / "cgroup.subtree_control").write_text("+cpu +pids")
                (parent / "cgroup.subtree_control").write_text("+cpu +pids")
                folders.append(parent / name)
        else:
            folders = [ROOT / controller / PARENT / name for controller in ("cpu", "pids")
                       if _writable(ROOT / controller)]
        made = []
        for folder in folders:
            try:
                folder.mkdir(parents=True)
            except OSError:
                continue
            made.append(folder)
            for setting, value in settings.items():
                if (folder / setting).exists():
                    with contextlib.suppress(OSError):
                        (folder / setting).write_text(value)
        return cls(made) if made else None

    def describe(self):
        """What the group limits, for the sandbox report."""
        return f"control group: {CPUS} CPU, {MAX_TASKS} tasks"

    def add(self, pid):
        """Move process ``pid`` (not yet running student code) into the group."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid))

    def remove(self):
        """Delete the group, or, while its last processes are still being reaped, leave it to
        ``remove_leftovers`` (waiting here would add up to a second to every submission)."""
        for folder in self.folders:
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                _leftovers.append(folder)


_leftovers = []  # groups whose processes had not all been reaped when their sandbox closed


def remove_leftovers(seconds=5.0):
    """Delete the groups ``remove`` had to leave, waiting up to ``seconds`` for them to empty."""
    deadline = time.monotonic() + seconds
    while _leftovers and time.monotonic() < deadline:
        for folder in list(_leftovers):
            with contextlib.suppress(OSError):
                folder.rmdir()
            if not folder.exists():
                _leftovers.remove(folder)
        time.sleep(0.05)
