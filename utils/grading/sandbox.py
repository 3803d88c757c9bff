"""Fencing in a student's process: what it can see, touch, reach and use.

The student's notebook runs in its own process (``worker.py``). Before any student code
runs, that process calls ``enter()`` and then ``restrict()``, which apply, as far as the
operating system allows:

- **separate namespaces** (Linux; as root, or as a normal user where unprivileged user
  namespaces are enabled): no network (a fresh, empty network namespace), its own process-id
  space (it cannot see or signal the grader, and every process it starts dies with it) and
  its own view of the file system, in which
  - the hidden directories (the repository, the hidden tests, the submissions, the output
    folder, the home directory and the system temp folder) are covered by empty, read-only
    folders, except for what Python needs (the interpreter, its packages) and this
    submission's own sandbox folder, which stay visible;
  - everything is read-only except its own, private, size-limited scratch space: the working
    directory, ``/tmp`` and ``/dev/shm`` are fresh in-memory file systems of its own, so it can
    neither fill the grader's disk nor leave or find a file, socket or FIFO that another
    process (another submission, an accomplice on the machine) can reach;
- **its own user id** (as root): an unused uid without privileges or capabilities; as a normal
  user, all capabilities are dropped instead;
- **resource limits**: address space (memory), CPU seconds, file size, number of processes
  (the grader adds a control group where it can: see ``cgroup.py``).

``enter()`` reports which fences went up; the grader prints it. Where a fence cannot go up
(macOS, a container without the needed privileges), grading still works but is weaker: see
appendix/instructors.md for what a student could then do.
"""

import ctypes
import ctypes.util
import os
import re
import resource
import signal

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 0x400, 0x800, 0x200000
ST_RELATIME = 0x1000  # statvfs reports relatime with another bit than mount() takes
KEPT_MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME  # a remount must keep these
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522

OWN_PIDS = "own process ids"  # in the report: the grader then stops the sandbox through its supervisor
PRIVATE_FOLDERS = ("/tmp", "/dev/shm")  # fresh and writable in every sandbox, never shared
PRIVATE_FOLDER_SIZE = "64m"
WORK_SIZE = "256m"   # the working directory's own file system: all the disk a submission gets
FILE_SIZE_LIMIT = 64 * 2**20
PROCESS_LIMIT = 32  # per sandbox uid (threads count too)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]


def _call(function, *args, what):
    if function(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _c_string(text):
    return None if text is None else os.fsencode(text)


def _mount(source, target, fstype, flags, data=None):
    _call(_libc.mount, _c_string(source), _c_string(target), _c_string(fstype), ctypes.c_ulong(flags),
          _c_string(data), what=f"mount {target}")


def is_under(path, folder):
    """True if ``path`` is ``folder`` or lies inside it (both absolute, without symlinks)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# ---- called in the student's process, before their code ---------------------------------

def enter(plan, keep_fds):
    """Put this process behind the fences ``plan`` asks for; returns a report of what went up.

    ``plan`` comes from the grader: ``namespaces`` (bool), ``uid`` (an unused uid when the
    grader runs as root, else None), ``hide`` and ``reveal`` (absolute paths) and ``work``
    (the working directory). With a new process-id space this process forks: the parent
    stays outside as a small supervisor and never returns; the child returns and runs the
    student's code.
    """
    report = {"isolated": [], "missing": []}
    if plan["namespaces"]:
        try:
            _unshare(as_root=plan["uid"] is not None)
        except OSError as error:
            report["missing"].append(f"namespaces ({error.strerror})")
        else:
            report["isolated"] += ["no network", OWN_PIDS]
            _mask_files(plan, report)
            _fork_supervisor(keep_fds)
            try:
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                report["isolated"].append("own /proc")
            except OSError as error:
                report["missing"].append(f"own /proc ({error.strerror})")
    else:
        report["missing"].append("namespaces (not Linux)")
    os.chdir(plan["work"])
    os.umask(0o077)
    return report


def restrict(plan, limits, report):
    """Resource limits, then give up every privilege. Call after the imports, before student code."""
    memory = limits["memory_mb"] * 2**20
    for limit, value in [(resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                         (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT), (resource.RLIMIT_CORE, 0)]:
        resource.setrlimit(limit, (value, value))
    if plan["uid"] is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
    report["isolated"].append(f"memory {limits['memory_mb']} MiB, CPU {limits['cpu_seconds']} s")
    _drop_privileges(plan["uid"], report)


def _unshare(as_root):
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _call(_libc.unshare, flags | (0 if as_root else CLONE_NEWUSER), what="unshare")
    if not as_root:  # become root of the new user namespace, mapped to our own uid outside
        for name, text in [("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")]:
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)


def _mask_files(plan, report):
    """Cover the hidden folders, bring back what must stay visible, make the rest read-only."""
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we do here leaks back to the host
        keep = {path: os.open(path, os.O_PATH) for path in plan["reveal"]
                if os.path.isdir(path) and any(is_under(path, h) for h in plan["hide"])}
        covered = []
        for path in sorted(plan["hide"], key=len):
            if os.path.isdir(path) and path != "/" and not any(is_under(path, c) for c in covered):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
                covered.append(path)
        for path, fd in sorted(keep.items()):
            os.makedirs(path, exist_ok=True)  # inside the empty folder that now covers it
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
        for path in plan["hide"]:  # a hidden folder inside a revealed one is covered again
            if os.path.isdir(path) and any(is_under(path, r) and path != r for r in keep):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        report["isolated"].append("hidden folders covered")
    except OSError as error:
        report["missing"].append(f"hidden folders ({error.strerror})")
        return
    writable = _private_scratch(plan, report)
    if _remount_read_only(skip=writable):
        report["isolated"].append("read-only files outside its folder")
    else:
        report["missing"].append("read-only root file system")


def _private_scratch(plan, report):
    """Fresh, size-limited in-memory file systems on /tmp, /dev/shm and the working directory,
    seen by this sandbox alone; returns the mount points that stay writable."""
    writable = set()
    for path in PRIVATE_FOLDERS:
        if not os.path.isdir(path):
            continue
        inside = {r: os.open(r, os.O_PATH) for r in plan["reveal"]  # e.g. its own folder under /tmp
                  if is_under(r, path) and r != path and os.path.isdir(r)}
        try:
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={PRIVATE_FOLDER_SIZE},mode=1777")
            for inner, fd in sorted(inside.items()):
                os.makedirs(inner, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", inner, None, MS_BIND | MS_REC)
            writable.add(path)
        except OSError as error:
            report["missing"].append(f"private {path} ({error.strerror})")
        finally:
            for fd in inside.values():
                os.close(fd)
    owner = "" if plan["uid"] is None else f",uid={plan['uid']},gid={plan['uid']}"
    try:
        _mount("tmpfs", plan["work"], "tmpfs", MS_NOSUID | MS_NODEV, f"size={WORK_SIZE},mode=700{owner}")
        if writable == {p for p in PRIVATE_FOLDERS if os.path.isdir(p)}:
            report["isolated"].append("private /tmp, /dev/shm and working directory")
    except OSError as error:  # keep the folder the grader made (on its disk), in a mount of its own
        _mount(plan["work"], plan["work"], None, MS_BIND)
        report["missing"].append(f"private working directory ({error.strerror})")
    return writable | {plan["work"]}


def _mount_points():
    with open("/proc/self/mountinfo") as file:
        for line in file:
            yield re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])


def _remount_read_only(skip):
    """Make every mount but those in ``skip`` read-only (keeping its other flags); True if the
    root one succeeded."""
    root_done = False
    for point in list(_mount_points()):
        if point in skip:
            continue
        try:
            current = os.statvfs(point).f_flag
            flags = (current & KEPT_MOUNT_FLAGS) | (MS_RELATIME if current & ST_RELATIME else 0)
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
            root_done = root_done or point == "/"
        except OSError:
            continue  # a mount we may not touch (some special file systems): it keeps its flags
    return root_done


def _fork_supervisor(keep_fds):
    """Fork into the new process-id space. The parent waits outside it and never returns."""
    child = os.fork()
    if child == 0:
        return
    for fd in keep_fds:  # only the child talks to the grader
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGKILL))  # the grader's "stop"
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as shells report it


def _drop_privileges(uid, report):
    for capability in range(64):  # empty the bounding set: nothing can regain a capability
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        report["isolated"].append(f"unprivileged uid {uid}")
    _call(_libc.prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, what="no_new_privs")
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _call(_libc.capset, ctypes.byref(header), data, what="capset")
    report["isolated"].append("no capabilities")
