"""Grading one submission, or a folder of them in parallel.

For each submission: read it (``notebook.py``), pick its exercise set, start its
sandboxed process (``proxy.py``) and run the set's hidden tests (``hidden.py``) in this
process against it. Submissions are independent, so a folder is graded by a pool of
threads, each waiting on its own student process; each result is handed on (and written)
as soon as it is known, and nothing one submission does can end the grading of the others.

The exercise set comes from the notebook's metadata, which the student can edit, or from
``--set``. Either way the grader also looks at which exercises the notebook defines and warns
(``Graded.warning``, shown in the table and the CSV) when they belong to another set, when the
metadata disagrees with ``--set``, and when a folder mixes sets.
"""

import collections
import concurrent.futures
import dataclasses
import re
import sys
import threading
import time
import traceback

from . import hidden, notebook, report
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
    set_warning: str = None      # this file's set is doubtful (see ``Grader._check_set``)
    folder_warning: str = None   # its set is not the one most of its folder has (``mark_mixed_sets``)

    @property
    def warning(self):
        return "; ".join(w for w in (self.set_warning, self.folder_warning) if w)

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
        except Exception as error:  # noqa: BLE001  (one submission must never end the others' grading)
            detail = str(error) if isinstance(error, GraderError) else traceback.format_exc()
            graded.grader_errors.append(detail)
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
        graded.set_warning = self._check_set(submission, graded.exercise_set)
        graded.tests = hidden.not_run(tests, "Not run.")  # replaced below; kept if the grader fails
        with StudentProcess(submission.cells, self.limits, self.fork_server, hide=self.hide) as process:
            student = RemoteStudent(process)
            graded.tests = [hidden.run_test(test, student) for test in tests]
            graded.notes += [process.cell_notes[n] for n in sorted(process.cell_notes)]
            graded.isolation = process.isolation
        graded.grader_errors += [f"{t.name}:\n{t.grader_error}" for t in graded.tests if t.grader_error]

    def _check_set(self, submission, chosen):
        """A warning if the notebook's code or metadata points to another set than ``chosen``."""
        if self.exercise_set and submission.exercise_set and submission.exercise_set != self.exercise_set:
            return (f"the notebook says it is exercise set {submission.exercise_set[:60]!r}; "
                    f"graded as {chosen} (--set)")
        defined = {m.group(1) for _, source in submission.cells
                   for m in re.finditer(r"^(?:def|class)\s+(\w+)", source, re.MULTILINE)}
        matches = {}
        for name in self.sets:
            try:
                exercises = {test.exercise for test in self.tests_for(name)}
            except GraderError:
                continue
            matches[name] = len(exercises & defined) / len(exercises)
        best = max(matches, key=matches.get, default=chosen)
        if matches.get(best, 0) > matches.get(chosen, 0):
            return (f"graded as {chosen}, but the notebook defines the exercises of {best}: "
                    "check its set (--set NN_slug)")
        return None

    def grade_all(self, paths, jobs=1, progress=sys.stderr, on_graded=None):
        """Grade ``paths``; returns results in the order given. ``on_graded(graded)`` is called
        (in this thread) for each submission as soon as it is graded, e.g. to write its results."""
        names = unique_names(paths)
        with fork_server(self.limits) as server, concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            self.fork_server = server
            futures = [pool.submit(self.grade, path, name) for path, name in zip(paths, names, strict=True)]
            for future in concurrent.futures.as_completed(futures):
                graded = future.result()
                if progress is not None:
                    total = f"{graded.score:g}/{graded.max_score:g}" if graded.max_score else "not graded"
                    print(f"graded {report.clean(graded.path.name)}: {total} ({graded.seconds:.1f} s)",
                          file=progress)
                if on_graded is not None:
                    on_graded(graded)
        return [future.result() for future in futures]


def mark_mixed_sets(all_graded):
    """Warn on each submission graded with another set than most of ``all_graded``."""
    counts = collections.Counter(g.exercise_set for g in all_graded if g.exercise_set)
    usual = counts.most_common(1)[0][0] if counts else None
    for graded in all_graded:
        mixed = len(counts) > 1 and graded.exercise_set and graded.exercise_set != usual
        graded.folder_warning = (f"graded as {graded.exercise_set}, unlike most of this folder ({usual})"
                                 if mixed else None)


RESERVED_NAMES = {"grades.csv"}  # files the grader writes next to the submissions' folders


def unique_names(paths):
    """Output folder names for the submissions: the file name without .ipynb, reduced to safe
    characters, distinct from each other (also ignoring case) and from the grader's own files."""
    bases = []
    for path in paths:
        base = path.name[: -len(".ipynb")] if path.name.endswith(".ipynb") else path.name
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", base).lstrip(".")[:100] or "submission"
        bases.append(base)
    taken = {name.casefold() for name in RESERVED_NAMES}
    first_choice = collections.Counter(base.casefold() for base in bases)
    names = []
    for base in bases:
        name, number = base, 1
        while name.casefold() in taken or (number > 1 and name.casefold() in first_choice):
            number += 1
            name = f"{base}-{number}"
        taken.add(name.casefold())
        names.append(name)
    return names
