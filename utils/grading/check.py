"""``check(...)``: immediate feedback in the student's notebook, from the visible tests.

    check(perceptron_predict)          # by the function (or class) itself
    check("perceptron_predict", fn)    # or by name

It prints one line per failed test with a hint, and never raises: a stub that still
raises ``NotImplementedError`` prints "not implemented yet", so an untouched exercise
notebook runs from top to bottom. The results pass through the same plain-data
conversion as in grading, so a result the grader could not read fails here too.
"""

import os
import sys
import types

from . import public
from .expect import Failure, StudentError
from .kernel import Kernel
from .plain import Handle, roundtrip
from .student import Student

GRADER_ENV_VAR = "DLBOOK_GRADER"  # set in the grader's sandbox, where visible checks are skipped
_MISSING = object()


class LocalStudent(Student):
    """The student's objects, run in their own kernel by the same code as in grading (``kernel.py``)."""

    def __init__(self, names, scopes=()):
        self._kernel = Kernel(dict(names), scopes=list(scopes), catches=Exception)

    def _send(self, request):
        request = {**request, "args": roundtrip(request["args"]),  # copies: the student cannot
                   "kwargs": roundtrip(request["kwargs"])}         # change the test's data
        reply = self._kernel.handle(request)
        if "ok" in reply and not isinstance(reply["ok"], Handle):
            return {"ok": roundtrip(reply["ok"])}  # exact built-in types, as the grader receives
        return reply


def _globals_of(obj):
    """The global names of the notebook that defined ``obj`` (where rules switch names off too)."""
    if isinstance(obj, types.FunctionType):
        return [obj.__globals__]
    module = sys.modules.get(getattr(obj if isinstance(obj, type) else type(obj), "__module__", None))
    return [vars(module)] if module is not None else []


def passed_text(name, count):
    """What ``check`` prints when every visible test passed (CI compares notebook outputs with it)."""
    return (f"✔ {name}: passed {count}/{count} visible checks. "
            "(Grading also runs hidden tests on other inputs.)")


def not_implemented_text(name):
    """What ``check`` prints for an exercise still raising the stub's ``NotImplementedError``."""
    return (f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line with your "
            "code, run that cell, then run this check again.")


def check(target, value=_MISSING):
    """Run the visible tests for one exercise and print what passed."""
    name, obj = (target, value) if isinstance(target, str) else (getattr(target, "__name__", None), target)
    if os.environ.get(GRADER_ENV_VAR):
        return
    if obj is _MISSING or not isinstance(name, str):
        print("check() needs the exercise's function or class, e.g. check(perceptron_predict)")
        return
    tests = public.tests_for(name)
    if not tests:
        print(f"There are no visible checks for {name!r}. Is the name spelled as in the exercise?")
        return
    student = LocalStudent({name: obj}, scopes=_globals_of(obj))
    failures = []
    for test in tests:
        try:
            with student._testing(name):  # the exercise's "write it yourself" rules apply here too
                test.function(student)
        except StudentError as error:
            if error.not_implemented:
                print(not_implemented_text(name))
                return
            failures.append((test, f"your code raised {error.type_name}: {error.message}"))
        except Failure as failure:
            failures.append((test, str(failure)))
        except Exception as error:  # noqa: BLE001  (never let a check stop the notebook)
            failures.append((test, f"the check itself failed ({type(error).__name__}: {error})"))
    if not failures:
        print(passed_text(name, len(tests)))
        return
    print(f"✘ {name}: {len(tests) - len(failures)} of {len(tests)} visible checks passed.")
    for test, message in failures:
        print(f"  ✘ {test.name}: {message}")
        if test.hint:
            print(f"    hint: {test.hint}")
