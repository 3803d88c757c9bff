"""The student's side of every test: run requests against the student's names.

The same code serves grading (``worker.py``, in the sandboxed process, requests arriving
over a pipe) and the visible checks (``check.LocalStudent``, in the student's own kernel),
so a check and a hidden test see the student's code behave the same way. Requests:

- ``{"op": "exec", "number": n, "source": ...}``: run notebook cell ``n`` (grading only);
- ``{"op": "call", "target": name or Handle, "method": name or None, "args", "kwargs", "keep",
  "rules"}``: call a function, class or kept object and reply with its result (or, with
  ``keep``, keep the result here and reply with a ``Handle`` to it);
- ``{"op": "scenario", "source", "name", "args", "kwargs", "rules"}``: compile a test's
  scenario (``scenario.py``) and call it with the student's names and the arguments.

``rules`` (``rules.py``) names functions switched off while that call runs. A scenario is the
test's own code, so it runs against the library as it was before the notebook ran (``library``,
taken when grading starts): a notebook that patched ``torch.equal`` or ``nn.Module.named_parameters``
at the top does not change what a scenario measures. Every reply is
``{"ok": value}``, ``{"error": {"type", "message", "where"}}`` or ``{"unreadable": what}``
(the result was not plain data).
"""

import contextlib
import sys
import traceback

from . import plain, rules, scenario

MAX_MESSAGE_CHARS = 2000


class Kernel:
    """The student's names (``namespace``) and the objects kept for the tests."""

    def __init__(self, namespace, transform=str, scopes=None, catches=BaseException, library=()):
        self.namespace = namespace
        self.transform = transform  # turns IPython syntax into plain Python (grading only)
        self.scopes = [namespace] if scopes is None else scopes  # where rules also switch names off
        self.catches = catches      # the student's notebook keeps its KeyboardInterrupt
        self.library = library      # library_snapshot() from before the notebook ran (grading only)
        self.kept = []

    def handle(self, request):
        try:
            if request["op"] == "exec":
                self.run_cell(request["number"], request["source"])
                return {"ok": None}
            args, kwargs = request["args"], request["kwargs"]
            library = self.library if request["op"] == "scenario" else ()
            switched_off = rules.switched_off(request.get("rules"), self.scopes)
            with gradients_on(), library_as_imported(library), switched_off:
                if request["op"] == "scenario":
                    function = scenario.load(request["source"], request["name"])
                    result = function(scenario.StudentNames(self.namespace), *args, **kwargs)
                else:
                    result = self.call(request["target"], request["method"], args, kwargs)
            return self.reply(result, keep=request.get("keep", False))
        except self.catches as error:  # whatever the student's code raised (in grading, even SystemExit)
            return {"error": describe(error)}

    def run_cell(self, number, source):
        code = compile(self.transform(source), f"<cell {number}>", "exec")
        exec(code, self.namespace)

    def call(self, target, method, args, kwargs):
        if isinstance(target, plain.Handle):
            function = self.kept[target.number]
        elif target in self.namespace:
            function = self.namespace[target]
        else:
            raise NameError(f"name {target!r} is not defined: did its cell run without errors?")
        if method is not None:
            function = getattr(function, method)
        return function(*args, **kwargs)

    def reply(self, result, keep):
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


def library_snapshot():
    """The attributes of what scenarios use (builtins, math, NumPy, torch, torch.nn.functional,
    torch.autograd, and the classes Tensor and nn.Module), as they are now."""
    owners = [sys.modules[name] for name in ("builtins", "math", "numpy") if name in sys.modules]
    torch = sys.modules.get("torch")
    if torch is not None:
        owners += [torch, torch.nn.functional, torch.autograd, torch.Tensor, torch.nn.Module]
    return [(owner, dict(vars(owner))) for owner in owners]


@contextlib.contextmanager
def library_as_imported(snapshot):
    """Within the block, every attribute in ``snapshot`` that was since replaced or deleted is back
    (and, on a class, one that was added is gone, since it hides the inherited one); afterwards the
    notebook's versions return. A module's new attributes stay: importing a submodule adds them."""
    undo = []
    for owner, before in snapshot:
        now = dict(vars(owner))
        for name in set(before) | (set(now) if isinstance(owner, type) else set()):
            if now.get(name, _MISSING) is not before.get(name, _MISSING):
                undo.append((owner, name, now.get(name, _MISSING)))
                _set(owner, name, before.get(name, _MISSING))
    try:
        yield
    finally:
        for owner, name, value in reversed(undo):
            _set(owner, name, value)


_MISSING = object()


def _set(owner, name, value):
    if value is _MISSING:
        delattr(owner, name)
    else:
        setattr(owner, name, value)


def gradients_on():
    """Every call starts with autograd on, and what the call does to that switch is undone after it.

    A function that turns gradients off for good (``torch.set_grad_enabled(False)``) then costs
    only its own exercise's points, not those of every exercise tested after it.
    """
    torch = sys.modules.get("torch")  # never imported here: a set without torch stays without it
    return torch.enable_grad() if torch is not None else contextlib.nullcontext()


def describe(error):
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
