"""Hidden tests: how they are written, loaded and run.

A hidden-tests file (``solutions/NN_slug_tests.py``) holds functions decorated with
``@hidden_test``; each receives ``student`` (see ``student.py``) and either returns
(full points) or raises. The grader imports the file in its own, trusted process; the
student's code only ever runs on the far side of ``student``. To see behaviour that lives
in the student's objects (in-place updates, buffers, gradients), a test runs a scenario
there: ``student.run(scenario, *args)`` (see ``scenario.py``).

    @hidden_test("count_parameters", points=2)
    def the_book_example(student):
        '''784-512-256-10 has 535,818 parameters'''
        expect_equal(student.count_parameters([784, 512, 256, 10]), 535_818, "count_parameters(...)")
"""

import importlib.util
import traceback
from dataclasses import dataclass

from .expect import Failure, StudentError
from .student import GraderError, WorkerLost

GRADER_BUG_TEXT = ("This test failed inside the grader, not because of your code; "
                   "your instructor has been told.")


@dataclass(frozen=True)
class HiddenTest:
    function: object
    exercise: str
    points: float

    @property
    def name(self):
        doc = (self.function.__doc__ or "").strip()
        return f"{self.exercise}: " + (doc.splitlines()[0] if doc else self.function.__name__)


@dataclass
class TestResult:
    name: str
    exercise: str
    score: float
    max_score: float
    output: str
    grader_error: str = None  # a traceback when the test itself is broken


def hidden_test(exercise, points):
    """Mark a function as a hidden test of ``exercise`` worth ``points`` (all or nothing)."""
    def mark(function):
        function.hidden_test = HiddenTest(function, exercise, points)
        return function
    return mark


def load_tests(path):
    """The hidden tests defined in the file at ``path``, in the order they are written."""
    spec = importlib.util.spec_from_file_location(f"hidden_tests_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [value.hidden_test for value in vars(module).values() if hasattr(value, "hidden_test")]
    if not tests:
        raise ValueError(f"{path} defines no @hidden_test functions")
    return tests


def run_test(test, student):
    """Run one hidden test against ``student``; never raises."""
    def result(score, output, grader_error=None):
        return TestResult(test.name, test.exercise, score, test.points, output, grader_error)

    try:
        with student._testing(test.exercise):  # the exercise's "write it yourself" rules apply
            test.function(student)
    except Failure as failure:
        return result(0, str(failure))
    except StudentError as error:
        if error.not_implemented:
            return result(0, "Not implemented yet.")
        return result(0, f"Your code raised {error.type_name}: {error.message}")
    except WorkerLost as lost:
        return result(0, f"Your code {lost.reason}.")
    except GraderError:
        raise
    except Exception:  # noqa: BLE001  (a bug in the test, not in the student's code)
        return result(0, GRADER_BUG_TEXT, grader_error=traceback.format_exc())
    return result(test.points, "Passed.")


def not_run(tests, reason):
    """Zero for every test, with the same reason (e.g. the submission is not a notebook)."""
    return [TestResult(t.name, t.exercise, 0, t.points, reason) for t in tests]
