"""Visible tests: the ones ``check(...)`` runs in a student's notebook.

One module per chapter (``ch01.py``, ``ch02.py``...), found automatically. A visible test
is a function of ``student`` (see ``utils.grading.student``) registered for an exercise:

    @visible_test("perceptron_predict", hint="'Fires' means w·x + b >= 0.")
    def fires_on_the_boundary(student):
        '''a point exactly on the boundary'''
        ...

These tests ship with the book, so they are public by design; the hidden tests that
grade a submission live with the solutions and check more.
"""

import importlib
import pkgutil
from dataclasses import dataclass

_REGISTRY = {}  # exercise name -> [VisibleTest, ...] in definition order


@dataclass(frozen=True)
class VisibleTest:
    exercise: str
    function: object
    hint: str

    @property
    def name(self):
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.function.__name__.replace("_", " ")


def visible_test(exercise, hint=""):
    """Register the decorated function as a visible test of ``exercise``."""
    def register(function):
        _REGISTRY.setdefault(exercise, []).append(VisibleTest(exercise, function, hint))
        return function
    return register


def load_all():
    """Import every chapter module (each registers its tests); returns the registry."""
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{module.name}")
    return _REGISTRY


def tests_for(exercise):
    return list(load_all().get(exercise, []))
