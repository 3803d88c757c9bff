"""The ``student`` argument of every test: the names a student's notebook defines.

Tests talk to a student's work only through this interface, so the same test code serves
the visible checks (``check.LocalStudent``: the student's objects, in their own kernel) and
the hidden tests (``proxy.RemoteStudent``: the student's process, behind the sandbox):

    student.perceptron_predict(X, w, b)        # call a function; returns plain data
    model = student.new("MLP", [4, 8, 3])      # build an object, which stays with the student
    model(x), model.state_dict()               # call it or one of its methods; plain data back
    student.run(scenario, *args)               # run a test's scenario next to the student's
                                               # objects (see scenario.py); plain data back

While a test of an exercise runs, every call carries that exercise's rules (``rules.py``): the
functions the prompt asks the student to write themselves are switched off.

A call into code that raises gives ``StudentError``; a result that is not plain data
gives ``Failure``; a process that crashes, hangs or runs out of memory gives ``WorkerLost``.
"""

import contextlib

from . import rules, scenario
from .expect import Failure, StudentError
from .plain import PLAIN_TYPES_TEXT, Handle

MAX_DETAIL_CHARS = 200


class GraderError(Exception):
    """The grader itself failed (not the student's code): reported, and the exit status is 1."""


class WorkerLost(Exception):
    """The student's process ended or stopped answering; ``reason`` says how, for the report."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Student:
    """Base class: subclasses say how a request reaches the student's code (``_send``)."""

    _rules = None  # the rules of the exercise whose test runs now (see ``_testing``)

    def _send(self, request):
        """Deliver ``request`` (see ``kernel.py``) and return the raw reply."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _testing(self, exercise):
        """While the block runs, every call and scenario carries ``exercise``'s rules."""
        self._rules = rules.rules_for(exercise)
        try:
            yield
        finally:
            self._rules = None

    def _call(self, target, method, args, kwargs, keep=False):
        what = target if isinstance(target, str) else "your object"
        what = f"{what}.{method}" if method else what
        request = {"op": "call", "target": target, "method": method, "args": list(args),
                   "kwargs": dict(kwargs), "keep": keep, "rules": self._rules}
        return self._result(self._send(request), what)

    def run(self, scenario_function, *args, **kwargs):
        """Run ``scenario_function(student's names, *args, **kwargs)`` in the student's process
        (see ``scenario.py``); returns what it returns, as plain data."""
        request = {"op": "scenario", "source": scenario.source_of(scenario_function),
                   "name": scenario_function.__name__, "args": list(args), "kwargs": dict(kwargs),
                   "rules": self._rules}
        return self._result(self._send(request), "your code (in a test's scenario)")

    def _result(self, reply, what):
        if not isinstance(reply, dict) or len(reply) != 1:
            raise WorkerLost("sent a malformed reply")
        (kind, body), = reply.items()
        if kind == "ok":
            return body
        if kind == "unreadable":
            raise Failure(f"{what} returned {str(body)[:MAX_DETAIL_CHARS]}, which the grader cannot read: "
                          f"return {PLAIN_TYPES_TEXT}")
        if kind == "error" and isinstance(body, dict) and isinstance(body.get("type"), str):
            message = str(body.get("message", ""))
            if body.get("where"):
                message = f"{message} ({body['where']})" if message else f"({body['where']})"
            raise StudentError(body["type"][:MAX_DETAIL_CHARS], message)
        raise WorkerLost("sent a malformed reply")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, None, args, kwargs)

    def new(self, class_name, *args, **kwargs):
        """An instance of the student's class ``class_name``, built and kept on their side."""
        handle = self._call(class_name, None, args, kwargs, keep=True)
        if not isinstance(handle, Handle):
            raise WorkerLost("sent a malformed reply")
        return StudentObject(self, handle, class_name)


class StudentObject:
    """An object living with the student's code; calling it or its methods returns plain data."""

    def __init__(self, student, handle, class_name):
        self._student, self._handle, self._class_name = student, handle, class_name

    def __call__(self, *args, **kwargs):
        return self._student._call(self._handle, None, args, kwargs)

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self._student._call(self._handle, method, args, kwargs)

    def __repr__(self):
        return f"<student's {self._class_name} object>"
