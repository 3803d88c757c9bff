"""The student's side of grading: run a submission's cells, then answer calls.

``run`` is what the process forked for each submission (``forkserver.py``) does. It is
the only place where a student's code runs during grading, so nothing it does is
trusted: it may patch NumPy, replace this module's functions or write anything to its
pipes. The grader's side only ever decodes plain data from it, with deadlines and size
limits, and compares results itself.

Order of events: read the set-up message, go behind the sandbox's fences, drop
privileges, forget the grader's modules (a student who imports ``utils.grading`` to patch
it gets a fresh copy, not the one serving the grader), say "ready"; then serve requests
until the grader hangs up:

- ``{"op": "exec", "number": n, "source": ...}``: run notebook cell ``n``;
- ``{"op": "call", "target": name or Handle, "method": name or None, "args", "kwargs", "keep"}``:
  call a function, class or kept object and reply with its result as plain data (or, with
  ``keep``, keep the result here and reply with a ``Handle`` to it).

Every reply is ``{"ok": value}``, ``{"error": {"type", "message", "where"}}`` or
``{"unreadable": what}`` (the result was not plain data).
"""

import builtins
import os
import sys
import traceback

from . import channel, plain, sandbox

MAX_MESSAGE_CHARS = 2000
FAKE_SHELL_CELL_MAGICS = ("time", "capture")  # %%magics whose cell body is still plain Python


def import_libraries():
    """Import what every submission needs (done once, in the fork server); returns the cell
    transformer that turns IPython syntax such as ``%matplotlib inline`` into plain Python."""
    import numpy  # noqa: F401

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return str
    return TransformerManager().transform_cell


def run(inbox, outbox):
    setup = channel.receive(inbox)
    os.environ.update(setup["env"])
    sys.path[:] = setup["sys_path"]  # the sandbox's copy of utils first
    report = sandbox.enter(setup["plan"], keep_fds=(inbox, outbox))
    kernel = Kernel(import_libraries())
    sandbox.restrict(setup["plan"], setup["limits"], report)
    for name in [n for n in sys.modules if n == "utils" or n.startswith("utils.")]:
        del sys.modules[name]
    channel.send(outbox, {"ready": report})
    while True:
        try:
            request = channel.receive(inbox)
        except channel.ChannelClosed:
            return
        channel.send(outbox, kernel.handle(request))


class _Shell:
    """Stands in for IPython's ``get_ipython()``: magics do nothing, except that the body of a
    ``%%time`` or ``%%capture`` cell still runs."""

    def __init__(self, namespace):
        self.namespace = namespace

    def run_line_magic(self, name, line):
        return None

    def run_cell_magic(self, name, line, cell):
        if name in FAKE_SHELL_CELL_MAGICS:
            exec(compile(cell, "<cell magic>", "exec"), self.namespace)

    def system(self, command):
        return None

    def getoutput(self, command):
        return []


class Kernel:
    """The student's namespace, filled by running their cells in order."""

    def __init__(self, transform):
        self.transform = transform
        self.namespace = {"__name__": "__main__", "__builtins__": builtins, "display": lambda *a, **k: None}
        shell = _Shell(self.namespace)
        self.namespace["get_ipython"] = lambda: shell
        self.kept = []

    def handle(self, request):
        try:
            if request["op"] == "exec":
                self.run_cell(request["number"], request["source"])
                return {"ok": None}
            return self.call(**{key: request[key] for key in ("target", "method", "args", "kwargs", "keep")})
        except BaseException as error:  # noqa: BLE001  (whatever the student's code raised, even SystemExit)
            return {"error": _describe(error)}

    def run_cell(self, number, source):
        code = compile(self.transform(source), f"<cell {number}>", "exec")
        exec(code, self.namespace)

    def call(self, target, method, args, kwargs, keep):
        if isinstance(target, plain.Handle):
            function = self.kept[target.number]
        elif target in self.namespace:
            function = self.namespace[target]
        else:
            raise NameError(f"name {target!r} is not defined: did its cell run without errors?")
        if method is not None:
            function = getattr(function, method)
        result = function(*args, **kwargs)
        if keep:
            self.kept.append(result)
            return {"ok": plain.Handle(len(self.kept) - 1)}
        try:
            plain.encode(result)  # can it be sent? (a student's object may fail in any way here)
        except plain.NotPlainData as error:
            return {"unreadable": str(error)}
        except Exception:  # noqa: BLE001
            return {"unreadable": f"a {type(result).__name__}"}
        return {"ok": result}


def _describe(error):
    """An exception as plain data: its type, message and where in the notebook it happened."""
    where = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith("<cell "):
            where = f"{frame.filename[1:-1]}, line {frame.lineno}"
    try:
        message = str(error)[:MAX_MESSAGE_CHARS]
    except Exception:  # noqa: BLE001
        message = "(the message could not be shown)"
    return {"type": type(error).__name__, "message": message, "where": where}

