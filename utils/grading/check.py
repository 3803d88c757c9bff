"""``check(...)``: immediate feedback in the student's notebook, from the visible tests.

    check(perceptron_predict)          # by the function (or class) itself
    check("perceptron_predict", fn)    # or by name

It prints one line per failed test with a hint, and never raises: a stub that still
raises ``NotImplementedError`` prints "not implemented yet", so an untouched exercise
notebook runs from top to bottom. The results pass through the same plain-data
conversion as in grading, so a result the grader could not read fails here too.
"""

import os

from . import public
from .expect import Failure, StudentError
from .plain import Handle, NotPlainData, roundtrip
from .student import Student

GRADER_ENV_VAR = "DLBOOK_GRADER"  # set in the grader's sandbox, where visible checks are skipped
_MISSING = object()


class LocalStudent(Student):
    """The student's objects, called directly in their own kernel."""

    def __init__(self, names):
        self._names = dict(names)
        self._kept = []

    def _invoke(self, target, method, args, kwargs, keep):
        function = self._kept[target.number] if isinstance(target, Handle) else self._names[target]
        args, kwargs = roundtrip(args), roundtrip(kwargs)  # copies: the student cannot change the test's data
        try:
            if method is not None:
                function = getattr(function, method)
            result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001  (whatever the student's code raised)
            raise StudentError(type(error).__name__, str(error)) from error
        if keep:
            self._kept.append(result)
            return {"ok": Handle(len(self._kept) - 1)}
        try:
            return {"ok": roundtrip(result)}
        except NotPlainData as error:
            return {"unreadable": str(error)}


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
    student = LocalStudent({name: obj})
    failures = []
    for test in tests:
        try:
            test.function(student)
        except StudentError as error:
            if error.not_implemented:
                print(f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line "
                      "with your code, run that cell, then run this check again.")
                return
            failures.append((test, f"your code raised {error.type_name}: {error.message}"))
        except Failure as failure:
            failures.append((test, str(failure)))
        except Exception as error:  # noqa: BLE001  (never let a check stop the notebook)
            failures.append((test, f"the check itself failed ({type(error).__name__}: {error})"))
    if not failures:
        print(f"✔ {name}: passed {len(tests)}/{len(tests)} visible checks. "
              "(Grading also runs hidden tests on other inputs.)")
        return
    print(f"✘ {name}: {len(tests) - len(failures)} of {len(tests)} visible checks passed.")
    for test, message in failures:
        print(f"  ✘ {test.name}: {message}")
        if test.hint:
            print(f"    hint: {test.hint}")
