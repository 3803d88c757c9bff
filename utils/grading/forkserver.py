"""Starting student processes fast: fork them from a process that has already imported torch.

Importing torch takes seconds, and a folder of submissions (plus every restart after a
crash) would pay for it again and again. So the grader starts one *fork server* per run:
a Python process that imports the heavy libraries once and then, on request, forks a
copy of itself that becomes one student's worker (``worker.run``). The fork server never
runs student code and never sees a hidden test; it forks, hands over pipes, and reports
exit statuses.

Grader and fork server talk over a Unix socket. A request carries four file descriptors:
the worker's two pipe ends, its log file, and the write end of a *status pipe*, on which
the fork server writes the worker's exit status (a signed 32-bit int, like
``Popen.returncode``) when the worker ends. The reply is the worker's pid (8 bytes).
The grader holds the worker through ``ForkedProcess``, which offers what ``Popen`` does.
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback

STATUS = struct.Struct(">i")
PID = struct.Struct(">q")
BOOTSTRAP = ("import json, sys; sys.path[:] = [sys.argv[1], *json.loads(sys.argv[2])]; "
             "from utils.grading.forkserver import serve; serve(int(sys.argv[3]))")
REAP_INTERVAL = 0.05  # seconds between checks for ended workers


# ---- the fork server process -------------------------------------------------------------

def serve(sock_fd):
    """Main loop of the fork server: fork a worker for every request until the grader hangs up."""
    from . import worker

    worker.import_libraries()
    server = socket.socket(fileno=sock_fd)
    status_fds = {}  # pid -> write end of its status pipe
    while True:
        _reap(status_fds)
        if not select.select([server], [], [], REAP_INTERVAL)[0]:
            continue
        message, fds, _, _ = socket.recv_fds(server, 16, 4)
        if not message:
            return  # the grader closed the socket
        inbox, outbox, log, status = fds
        pid = os.fork()
        if pid == 0:
            _become_worker(fds, unneeded=[server.fileno(), status, *status_fds.values()])
        for fd in (inbox, outbox, log):
            os.close(fd)
        status_fds[pid] = status
        server.sendall(PID.pack(pid))


def _become_worker(fds, unneeded):
    """In the forked child: keep only its own pipes, log to its file, run the worker; never return."""
    inbox, outbox, log, _ = fds
    code = 1
    try:
        for fd in unneeded:  # the fork server's socket and every status pipe
            os.close(fd)
        os.setsid()  # its own process group, which the grader can stop as a whole
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        from . import worker

        worker.run(inbox, outbox)
        code = 0
    except BaseException:  # noqa: BLE001  (report whatever happened, then leave)
        traceback.print_exc()
    finally:
        os._exit(code)


def _reap(status_fds):
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_fds.pop(pid, None)
        if fd is not None:
            os.write(fd, STATUS.pack(os.waitstatus_to_exitcode(wait_status)))
            os.close(fd)


# ---- the grader's side -------------------------------------------------------------------

class ForkServer:
    """The grader's handle on its fork server (started on first use, restarted if it died)."""

    def __init__(self, folder, sys_path, env, startup_seconds):
        self.folder, self.sys_path, self.env = folder, sys_path, env
        self.startup_seconds = startup_seconds
        self._process = self._socket = None
        self._lock = threading.Lock()

    def spawn(self, inbox, outbox, log_fd):
        """Fork a worker that reads requests from ``inbox`` and writes replies to ``outbox``."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            status_read, status_write = os.pipe()
            try:
                socket.send_fds(self._socket, [b"spawn"], [inbox, outbox, log_fd, status_write])
                reply = b""
                while len(reply) < PID.size:
                    chunk = self._socket.recv(PID.size - len(reply))
                    if not chunk:
                        raise OSError("the fork server ended")
                    reply += chunk
            except OSError:
                os.close(status_read)
                raise
            finally:
                os.close(status_write)
        return ForkedProcess(PID.unpack(reply)[0], status_read)

    def _start(self):
        self.close()
        ours, theirs = socket.socketpair()
        ours.settimeout(self.startup_seconds)  # the first reply waits for the imports
        with open(self.folder / "forkserver.log", "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOTSTRAP, str(self.folder), json.dumps(self.sys_path),
                 str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.folder, env=self.env)
        theirs.close()
        self._socket = ours

    def log_tail(self, chars=2000):
        path = self.folder / "forkserver.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def close(self):
        if self._socket is not None:
            self._socket.close()  # the fork server's loop ends on the closed socket
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


class ForkedProcess:
    """The part of ``Popen``'s interface the grader uses, for a worker forked by the fork server
    (which is not the grader's child, so the grader cannot wait for it directly).

    Signals go through a pidfd where the OS has them, so a recycled pid is never hit; the
    exit status arrives on the status pipe.
    """

    def __init__(self, pid, status_fd):
        self.pid, self.returncode = pid, None
        self._status_fd = status_fd
        self._pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None

    def wait(self, timeout=None):
        if self.returncode is None:
            poller = select.poll()
            poller.register(self._status_fd, select.POLLIN)
            if not poller.poll(None if timeout is None else timeout * 1000):
                raise subprocess.TimeoutExpired("student process", timeout)
            data = os.read(self._status_fd, STATUS.size)
            self.returncode = STATUS.unpack(data)[0] if len(data) == STATUS.size else -signal.SIGKILL
            os.close(self._status_fd)
            if self._pidfd is not None:
                os.close(self._pidfd)
        return self.returncode

    def send_signal(self, number):
        if self.returncode is not None:
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, number)
            else:
                os.kill(self.pid, number)
        except ProcessLookupError:
            pass

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)
