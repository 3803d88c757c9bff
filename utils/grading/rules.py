"""Rules a prompt states: "write it yourself", enforced while the exercise is checked.

A prompt that says "compute GELU from its formula, without torch.nn.functional.gelu" is
backed by one line in the chapter's visible-tests module (``utils/grading/public/chNN.py``):

    write_it_yourself("gelu", "torch.nn.functional.gelu")

While the student's code runs for that exercise (every call and scenario of its hidden tests,
and its visible ``check``), the named functions are replaced by one that raises
``WriteItYourselfError: this exercise asks you to write gelu yourself, so
torch.nn.functional.gelu is switched off while it is checked``. Names the student's notebook
bound to the same function (``from torch.nn.functional import gelu``) are switched off too.
Everything is put back when the call returns. Only the student's process is touched: the
hidden tests compute their expected values in the grader's own process, and a visible test's
own lines run outside the call. A test's scenario (``scenario.py``) runs inside it, so its
lines must not use these functions either (use ``torch.autograd.grad`` in a scenario only
if the exercise does not forbid it).

This stops the honest shortcut (calling the library where the exercise asks for the
formula). It does not stop a determined student: a reference saved where the rule cannot
see it (inside a list, a default argument, a private torch alias such as ``torch._C``) still
works. ``AUTOGRAD`` lists the entry points of PyTorch's autograd for hand-written backward
passes, forward mode included (``torch.func.grad``, ``jvp``, ``jacfwd`` and
``torch.autograd.functional`` go through them).
"""

import contextlib
import importlib
import sys

AUTOGRAD = ("torch.Tensor.backward", "torch.autograd.backward", "torch.autograd.grad",
            "torch.autograd.forward_ad.make_dual")

_RULES = {}  # exercise name -> tuple of dotted names


class WriteItYourselfError(RuntimeError):
    """The student's code called a function the exercise asks them to write themselves."""


def write_it_yourself(exercise, *functions, if_present=()):
    """Declare that ``exercise``'s code may not call ``functions`` (dotted names, e.g.
    ``"torch.softmax"``, ``"torch.Tensor.softmax"``). Checked here, so a typo fails loudly.
    ``if_present`` names functions that only newer library versions have: switched off where they
    exist, skipped where they do not (a student cannot call them there either)."""
    for dotted in functions:
        _resolve(dotted)
    functions += tuple(dotted for dotted in if_present if _exists(dotted))
    _RULES[exercise] = tuple(dict.fromkeys(_RULES.get(exercise, ()) + functions))


def rules_for(exercise):
    """What the grader sends with every call of ``exercise``'s tests: None, or the functions
    to switch off and the exercise's name (for the message)."""
    from . import public

    public.load_all()  # the chapter modules declare their rules when imported
    functions = _RULES.get(exercise)
    return {"exercise": exercise, "functions": list(functions)} if functions else None


@contextlib.contextmanager
def switched_off(rules, scopes=()):
    """Within the block, the functions ``rules`` names raise ``WriteItYourselfError``, also
    where a dict in ``scopes`` (the student's global names) binds them. Runs in the student's
    process only."""
    undo = []
    try:
        for dotted in (rules or {}).get("functions", ()):
            owner, name = _resolve(dotted)
            original = getattr(owner, name)
            blocker = _blocker(dotted, rules["exercise"])
            own = vars(owner).get(name, _MISSING)
            setattr(owner, name, staticmethod(blocker) if isinstance(own, staticmethod) else blocker)
            undo.append(lambda owner=owner, name=name, own=own: _put_back(owner, name, own))
            for scope in scopes:
                for key in [k for k, v in scope.items() if v is original]:
                    scope[key] = blocker
                    undo.append(lambda s=scope, k=key, o=original, b=blocker: _put_name_back(s, k, o, b))
        yield
    finally:
        for step in reversed(undo):
            step()


_MISSING = object()


def _put_back(owner, name, own):
    if own is _MISSING:
        delattr(owner, name)  # it was inherited (e.g. a tensor method defined in C): inherit it again
    else:
        setattr(owner, name, own)


def _put_name_back(scope, key, original, blocker):
    if scope.get(key) is blocker:  # unless the student's code bound the name to something else meanwhile
        scope[key] = original


def _blocker(dotted, exercise):
    message = (f"this exercise asks you to write {exercise} yourself, so {dotted} is switched off "
               "while it is checked")

    def switched_off_function(*args, **kwargs):
        raise WriteItYourselfError(message)

    return switched_off_function


def _exists(dotted):
    try:
        _resolve(dotted)
    except (AttributeError, ImportError):
        return False
    return True


def _resolve(dotted):
    """``"torch.nn.functional.gelu"`` -> (the module torch.nn.functional, "gelu")."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            owner = sys.modules.get(module_name) or importlib.import_module(module_name)
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        if not hasattr(owner, parts[-1]):
            raise AttributeError(f"write_it_yourself: {dotted} does not exist")
        return owner, parts[-1]
    raise ImportError(f"write_it_yourself: no module in {dotted!r}")
