"""Grade exercise notebooks with hidden tests.

    python -m utils.grading SUBMISSION.ipynb --tests solutions/ --out grading-output
    python -m utils.grading submissions/     --tests solutions/ --out grading-output --jobs 4

A single notebook writes OUT/results.json; a folder writes OUT/<name>/results.json for
each file in it and OUT/grades.csv, each as soon as that submission is graded (so an
interrupted run keeps what it finished). A table goes to stdout. The exit status is 0 when
every submission was graded (whatever its score) and 1 when the grader itself failed
(a broken hidden test, a sandbox that could not start); usage errors give 2.

Each notebook is graded with the exercise set its metadata names, unless ``--set NN_slug``
says which set the whole run is; the grader warns when a notebook's code, its metadata and
``--set`` disagree, and when a folder mixes sets.
"""

import argparse
import os
import pathlib
import sys

from . import report
from .grader import Grader, mark_mixed_sets
from .notebook import available_sets
from .proxy import ROOT, Limits


def parse_args(argv):
    defaults = Limits()
    parser = argparse.ArgumentParser(prog="python -m utils.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", type=pathlib.Path, help="a notebook, or a folder of submissions")
    parser.add_argument("--tests", type=pathlib.Path, default=ROOT / "solutions",
                        help="folder with the hidden tests, NN_slug_tests.py (default: solutions/)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("grading-output"),
                        help="where results go (default: grading-output/)")
    parser.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                        help="submissions graded at once (default: up to 4)")
    parser.add_argument("--set", dest="exercise_set",
                        help="grade every submission as this set (NN_slug), whatever its metadata says "
                             "(recommended: a student can edit the metadata)")
    parser.add_argument("--call-timeout", type=float, default=defaults.call_seconds,
                        help=f"seconds for one call into student code (default {defaults.call_seconds:g})")
    parser.add_argument("--cell-timeout", type=float, default=defaults.cell_seconds,
                        help=f"seconds for one notebook cell (default {defaults.cell_seconds:g})")
    parser.add_argument("--total-timeout", type=float, default=defaults.total_seconds,
                        help=f"seconds for a whole submission (default {defaults.total_seconds:g})")
    parser.add_argument("--memory", type=int, default=defaults.memory_mb,
                        help=f"MiB of address space for student code (default {defaults.memory_mb})")
    args = parser.parse_args(argv)
    if not args.submission.exists():
        parser.error(f"{args.submission} does not exist")
    sets = available_sets(args.tests) if args.tests.is_dir() else {}
    if not sets:
        parser.error(f"no hidden tests (NN_slug_tests.py) in {args.tests}")
    if args.exercise_set is not None and args.exercise_set not in sets:
        parser.error(f"--set {args.exercise_set}: no {args.exercise_set}_tests.py in {args.tests}")
    return args


def main(argv=None):
    args = parse_args(argv)
    limits = Limits(call_seconds=args.call_timeout, cell_seconds=args.cell_timeout,
                    total_seconds=args.total_timeout, memory_mb=args.memory)
    folder = args.submission if args.submission.is_dir() else None
    paths = (sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
             if folder else [args.submission])
    if not paths:
        print(f"{folder} holds no files to grade", file=sys.stderr)
        return 2
    # The sandboxes must not see the submissions or the results either.
    hidden_from_students = [folder or args.submission.resolve().parent, args.out]
    args.out.mkdir(parents=True, exist_ok=True)
    grader = Grader(args.tests, limits, exercise_set=args.exercise_set, hide=hidden_from_students)
    done, write_errors, order = [], [], {path: n for n, path in enumerate(paths)}

    def write(graded):  # as soon as one is graded: its results.json, then grades.csv so far
        done.append(graded)
        try:
            if folder:
                report.write_results(graded, args.out / graded.name)
                mark_mixed_sets(done)
                report.write_csv(sorted(done, key=lambda g: order[g.path]), args.out / "grades.csv")
            else:
                report.write_results(graded, args.out)
        except OSError as error:
            write_errors.append(f"cannot write the results of {report.clean(graded.path.name)}: {error}")

    all_graded = grader.grade_all(paths, jobs=args.jobs, on_graded=write)

    if folder:
        print(report.folder_table(all_graded))
        print(f"\nresults: {args.out}/<name>/results.json and {args.out / 'grades.csv'}")
    else:
        print(report.submission_table(all_graded[0]))
        print(f"\nresults: {args.out / 'results.json'}")
    _print_isolation(all_graded)
    # A doubtful set goes to stderr too; a folder of several sets is shown in the table and CSV only.
    for graded in [g for g in all_graded if g.set_warning]:
        print(f"WARNING: {report.clean(graded.path.name)}: {report.clean(graded.set_warning)}",
              file=sys.stderr)
    errors = [report.clean(error) for graded in all_graded for error in graded.grader_errors] + write_errors
    for error in errors:
        print(f"\nGRADER ERROR: {error}", file=sys.stderr)
    return 1 if errors else 0


def _print_isolation(all_graded):
    reports = [g.isolation for g in all_graded if g.isolation]
    if not reports:
        return
    print("sandbox: " + ", ".join(reports[0]["isolated"]))
    missing = sorted({item for r in reports for item in r["missing"]})
    if missing:
        print("WARNING: weaker sandbox than intended, missing: " + "; ".join(missing)
              + " (see appendix/instructors.md, 'Security model')", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
