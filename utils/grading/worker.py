"""The student's side of grading: run a submission's cells, then answer calls.

``run`` is what the process forked for each submission (``forkserver.py``) does. It is
the only place where a student's code runs during grading, so nothing it does is
trusted: it may patch NumPy, replace this module's functions or write anything to its
pipes. The grader's side only ever decodes plain data from it, with deadlines and size
limits, and compares results itself.

Order of events: read the set-up message, go behind the sandbox's fences, drop
privileges, forget the grader's modules (a student who imports ``utils.grading`` to patch
it gets a fresh copy, not the one serving the grader), say "ready"; then serve requests
(run a cell, call a function, run a test's scenario: see ``kernel.py``) until the grader
hangs up.
"""

import builtins
import os
import sys

from . import channel, sandbox
from .kernel import Kernel, library_snapshot

FAKE_SHELL_CELL_MAGICS = ("time", "capture")  # %%magics whose cell body is still plain Python


def import_libraries():
    """Import what every submission needs (done once, in the fork server); returns the cell
    transformer that turns IPython syntax such as ``%matplotlib inline`` into plain Python."""
    import numpy  # noqa: F401

    try:
        import torch
        import torch._dynamo  # noqa: F401  (the first optimizer a submission builds imports it: seconds)

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
    kernel = notebook_kernel(import_libraries())
    sandbox.restrict(setup["plan"], setup["limits"], report)
    for name in [n for n in sys.modules if n == "utils" or n.startswith("utils.")]:
        del sys.modules[name]
    channel.send(outbox, {"ready": report})
    while True:
        try:
            request_id, request = channel.receive_request(inbox)
        except channel.ChannelClosed:
            return
        channel.send(outbox, kernel.handle(request), request_id=request_id)


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


def notebook_kernel(transform):
    """An empty ``__main__`` namespace, as a notebook's kernel starts with, to run the cells in."""
    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": lambda *a, **k: None}
    shell = _Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    return Kernel(namespace, transform, library=library_snapshot())
