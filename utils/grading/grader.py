"""Grading one submission, or a folder of them in parallel.

For each submission: read it (``notebook.py``), pick its exercise set, start its
sandboxed process (``proxy.py``) and run the set's hidden tests (``hidden.py``) in this
process against it. Submissions are independent, so a folder is graded by a pool of
threads, each waiting on its own student process.
"""

import concurrent.futures
import dataclasses
import sys
import threading
import time

from . import hidden, notebook
from .proxy import RemoteStudent, StudentProcess, fork_server
from .student import GraderError


@dataclasses.dataclass
class Graded:
    """Everything known about one graded submission."""

    name: str
    path: object
    exercise_set: str = None
    tests: list = dataclasses.field(default_factory=list)     # [hidden.TestResult]
    notes: list = dataclasses.field(default_factory=list)     # notebook-level messages for the student
    seconds: float = 0.0
    isolation: dict = None
    grader_errors: list = dataclasses.field(default_factory=list)

    @property
    def score(self):
        return sum(t.score for t in self.tests)

    @property
    def max_score(self):
        return sum(t.max_score for t in self.tests) if self.tests else None

    def by_exercise(self):
        """``{exercise: [score, max_score]}`` in the order the tests are written."""
        totals = {}
        for test in self.tests:
            total = totals.setdefault(test.exercise, [0, 0])
            total[0] += test.score
            total[1] += test.max_score
        return totals


class Grader:
    def __init__(self, tests_dir, limits, exercise_set=None, hide=()):
        self.sets = notebook.available_sets(tests_dir)
        self.limits = limits
        self.exercise_set = exercise_set
        self.hide = [tests_dir, *hide]
        self.fork_server = None  # set while grade_all runs
        self._tests = {}
        self._lock = threading.Lock()

    def tests_for(self, set_name):
        with self._lock:
            if set_name not in self._tests:
                try:
                    self._tests[set_name] = hidden.load_tests(self.sets[set_name])
                except Exception as error:  # noqa: BLE001  (a broken tests file is the grader's failure)
                    raise GraderError(f"cannot load the hidden tests of {set_name}: {error!r}") from error
            return self._tests[set_name]

    def grade(self, path, name=None):
        start = time.monotonic()
        graded = Graded(name or path.stem, path)
        try:
            self._grade_into(graded)
        except GraderError as error:
            graded.grader_errors.append(str(error))
            graded.notes.append("Not graded: the grader failed (your instructor has been told).")
            graded.tests = [dataclasses.replace(t, score=0, output=graded.notes[-1]) for t in graded.tests]
        graded.seconds = time.monotonic() - start
        return graded

    def _grade_into(self, graded):
        try:
            submission = notebook.read_submission(graded.path)
            declared = self.exercise_set or submission.exercise_set
            graded.exercise_set = notebook.choose_set(graded.path, declared, self.sets)
        except notebook.NotANotebook as reason:
            graded.notes.append(f"Not graded: {reason}.")
            fallback = self.exercise_set or (next(iter(self.sets)) if len(self.sets) == 1 else None)
            if fallback in self.sets:
                graded.exercise_set = fallback
                graded.tests = hidden.not_run(self.tests_for(fallback), graded.notes[-1])
            return
        tests = self.tests_for(graded.exercise_set)
        graded.tests = hidden.not_run(tests, "Not run.")  # replaced below; kept if the grader fails
        with StudentProcess(submission.cells, self.limits, self.fork_server, hide=self.hide) as process:
            student = RemoteStudent(process)
            graded.tests = [hidden.run_test(test, student) for test in tests]
            graded.notes += [process.cell_notes[n] for n in sorted(process.cell_notes)]
            graded.isolation = process.isolation
        graded.grader_errors += [f"{t.name}:\n{t.grader_error}" for t in graded.tests if t.grader_error]

    def grade_all(self, paths, jobs=1, progress=sys.stderr):
        """Grade ``paths`` (any order of completion); returns results in the order given."""
        names = _unique_names(paths)
        with fork_server(self.limits) as server, concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            self.fork_server = server
            futures = [pool.submit(self.grade, path, name) for path, name in zip(paths, names, strict=True)]
            for future in concurrent.futures.as_completed(futures):
                graded = future.result()
                if progress is not None:
                    total = f"{graded.score:g}/{graded.max_score:g}" if graded.max_score else "not graded"
                    print(f"graded {graded.path.name}: {total} ({graded.seconds:.1f} s)", file=progress)
        return [future.result() for future in futures]


def _unique_names(paths):
    """Output names for the submissions: the file name without .ipynb, made unique."""
    names, seen = [], {}
    for path in paths:
        base = path.stem if path.suffix == ".ipynb" else path.name
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names
