"""Scenarios: a few lines of a hidden test, run next to the student's own objects.

A call such as ``student.relu(x)`` sends data and gets data back. Behaviour that lives in
objects cannot be seen that way: a parameter an optimizer must update in place, a buffer,
the ``.grad`` a backward pass leaves, an input that must not change. A *scenario* is a
plain function, written in the tests file, that does those few steps where the objects
live and returns what it saw as plain data:

    def momentum_steps(student, start, grads):
        params = [torch.tensor(p, requires_grad=True) for p in start]
        optimizer = student.SGDMomentum(params, lr=0.1, momentum=0.9)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = torch.tensor(g)
            optimizer.step()
        return [p.detach() for p in params]

    got = student.run(momentum_steps, start, grads)   # in a hidden (or visible) test

``student.run`` sends the function's *source* and its arguments (plain data) to the
student's process, which compiles it there (``load``) and calls it with ``student`` bound to
the student's names: inside a scenario, ``student.SGDMomentum`` is their class itself, not a
proxy. The return value crosses back as plain data, like any call's; the test computes the
expected values in its own process and compares. A scenario can therefore use only its
arguments, ``torch``, ``np``, ``math`` and builtins: ``source_of`` refuses one that reads
anything else from the tests file, which would not exist on the student's side.
"""

import builtins
import functools
import inspect
import symtable
import textwrap
import types

SCENARIO_GLOBALS = ("torch", "np", "math")  # what a scenario finds besides builtins
FILENAME_PREFIX = "<scenario "             # tracebacks name a scenario's lines "<scenario NAME>"


class ScenarioError(ValueError):
    """A scenario that cannot run on the student's side (a bug in the test, not the student's)."""


# ---- the grader's side ----------------------------------------------------------------------

@functools.cache
def source_of(function):
    """The source ``student.run`` sends for ``function``, after checking it is self-contained."""
    name = getattr(function, "__name__", "?")
    if not isinstance(function, types.FunctionType) or name == "<lambda>":
        raise ScenarioError(f"a scenario must be a function defined with def, not {function!r}")
    if function.__closure__:
        raise ScenarioError(f"scenario {name} uses variables of an enclosing function: pass them as "
                            "arguments")
    if not function.__code__.co_varnames[: function.__code__.co_argcount]:
        raise ScenarioError(f"scenario {name} must take the student's names as its first argument")
    source = textwrap.dedent(inspect.getsource(function))
    if source.lstrip().startswith("@"):
        raise ScenarioError(f"scenario {name} must not be decorated")
    unknown = sorted(_global_names(source) - set(SCENARIO_GLOBALS) - set(dir(builtins)))
    if unknown:
        raise ScenarioError(f"scenario {name} uses {', '.join(unknown)}, which the student's process does "
                            f"not have: a scenario sees only its arguments, {', '.join(SCENARIO_GLOBALS)} "
                            "and builtins")
    return source


def _global_names(source):
    """Every global name the code in ``source`` reads (defaults, bodies, nested functions)."""
    names, tables = set(), [symtable.symtable(source, "scenario", "exec")]
    while tables:
        table = tables.pop()
        names |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
        tables += table.get_children()
    return names


# ---- the student's side ---------------------------------------------------------------------

def load(source, name):
    """Compile a scenario's source in a fresh namespace and return the function ``name``."""
    import math

    import numpy
    import torch

    namespace = {"__builtins__": builtins, "torch": torch, "np": numpy, "math": math}
    exec(compile(source, f"{FILENAME_PREFIX}{name}>", "exec"), namespace)
    function = namespace.get(name)
    if not isinstance(function, types.FunctionType):
        raise ScenarioError(f"the scenario's source does not define {name}")
    return function


class StudentNames:
    """The ``student`` a scenario receives: ``student.X`` is the student's own ``X``."""

    def __init__(self, namespace):
        self._namespace = namespace

    def __getattr__(self, name):
        try:
            return self._namespace[name]
        except KeyError:
            raise NameError(f"name {name!r} is not defined: did its cell run without errors?") from None
