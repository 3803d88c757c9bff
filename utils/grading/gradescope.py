"""Grading on Gradescope: build the autograder zip, and grade one submission inside it.

A course of hundreds grades on Gradescope, which builds one Docker image from an autograder
zip (running its ``setup.sh`` once) and then, for each submission, copies the student's
files to ``/autograder/submission/``, runs ``run_autograder`` and reads
``/autograder/results/results.json``. Two commands:

    python -m utils.grading.gradescope bundle 01_perceptrons --tests solutions/ --out autograder.zip
    python -m utils.grading.gradescope run --set 01_perceptrons          (what run_autograder calls)

The zip holds ``setup.sh``, ``run_autograder``, this ``utils`` package, the hidden tests of
one exercise set (``tests/NN_slug_tests.py``) and the book's requirement files. ``setup.sh``
installs the CPU build of torch at the version the lock file pins, from PyTorch's own index
(PyPI's default torch wheel for Linux is the multi-GB CUDA build), then the book's packages
at their pinned versions. See appendix/instructors.md.

``run`` takes ``--root`` (default: ``$AUTOGRADER_ROOT`` or ``/autograder``), so a test can
run it against a temporary folder laid out like Gradescope's.
"""

import argparse
import json
import os
import pathlib
import re
import sys
import zipfile

from . import report
from .grader import Grader
from .notebook import available_sets
from .proxy import ROOT, Limits

CPU_WHEELS = "https://download.pytorch.org/whl/cpu"
REQUIREMENTS = ("requirements.txt", "requirements-lock.txt")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, to build the autograder image.
# It needs Python 3.11 or newer (pick Gradescope's Ubuntu 24.04 base image).
set -euo pipefail
cd "$(dirname "$0")"
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \\
    || {{ echo "setup.sh: Python 3.11+ is needed: choose the Ubuntu 24.04 base image" >&2; exit 1; }}
python3 -m venv /autograder/venv
# The CPU build of torch, at the pinned version, from PyTorch's index; then the book's packages,
# with every version pinned by the lock file (torch==X there is met by the X+cpu build).
/autograder/venv/bin/pip install -q "{torch_pin}" --index-url {cpu_wheels}
/autograder/venv/bin/pip install -q -r requirements.txt -c requirements-lock.txt
/autograder/venv/bin/python -c "import torch; assert torch.version.cuda is None; print(torch.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON exist for tests.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$root/source"
exec "${{AUTOGRADER_PYTHON:-/autograder/venv/bin/python}}" -m utils.grading.gradescope run \\
    --root "$root" --set {exercise_set}
"""


# ---- building the zip (on the instructor's machine) --------------------------------------

def torch_pin(lock_text):
    """The ``torch==X`` line of the lock file."""
    found = re.search(r"^torch==\S+", lock_text, re.MULTILINE)
    if not found:
        raise SystemExit("requirements-lock.txt pins no torch version")
    return found.group(0)


def write_bundle(exercise_set, tests_file, out):
    """Write the autograder zip for ``exercise_set`` (hidden tests in ``tests_file``) to ``out``."""
    lock = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        scripts = {"setup.sh": SETUP_SH.format(torch_pin=torch_pin(lock), cpu_wheels=CPU_WHEELS),
                   "run_autograder": RUN_AUTOGRADER.format(exercise_set=exercise_set)}
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            bundle.writestr(info, text)
        for name in REQUIREMENTS:
            bundle.write(ROOT / name, name)
        bundle.write(tests_file, f"tests/{tests_file.name}")
        for path in sorted((ROOT / "utils").rglob("*")):
            relative = path.relative_to(ROOT)
            if path.is_file() and not any(part.startswith((".", "__pycache__")) for part in relative.parts):
                bundle.write(path, str(relative))
    return out


# ---- grading one submission (inside Gradescope's container) --------------------------------

def grade_submission(root, exercise_set, limits=None):
    """Grade the notebook in ``root/submission`` and write ``root/results/results.json``."""
    submission, results = root / "submission", root / "results"
    results.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(submission.rglob("*.ipynb"))
    if not notebooks:
        result = {"score": 0.0, "tests": [],
                  "output": "No notebook (.ipynb) was submitted: upload your exercise notebook."}
        _write_json(results / "results.json", result)
        return result
    chosen = next((p for p in notebooks if exercise_set in p.name), notebooks[0])
    tests_dir = root / "source" / "tests"
    grader = Grader(tests_dir, limits or Limits(), exercise_set=exercise_set, hide=[submission, results])
    graded = grader.grade_all([chosen], jobs=1, progress=None)[0]
    if len(notebooks) > 1:
        graded.notes.insert(0, f"Several notebooks were submitted; {chosen.name} was graded.")
    result = report.results_json(graded)
    result["stdout_visibility"] = "hidden"  # the log names the sandbox's fences: for the instructor
    _write_json(results / "results.json", result)
    for error in graded.grader_errors:
        print(f"GRADER ERROR: {report.clean(error)}")
    if graded.isolation:
        print("sandbox: " + ", ".join(graded.isolation["isolated"]))
        if graded.isolation["missing"]:
            print("WARNING: weaker sandbox than intended, missing: "
                  + "; ".join(graded.isolation["missing"]))
    return result


def _write_json(path, result):
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.grading.gradescope",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bundle = commands.add_parser("bundle", help="write the autograder zip for one exercise set")
    bundle.add_argument("exercise_set", help="the set to grade (NN_slug)")
    bundle.add_argument("--tests", type=pathlib.Path, default=ROOT / "solutions",
                        help="folder with the hidden tests (default: solutions/; use your private copy)")
    bundle.add_argument("--out", type=pathlib.Path, help="the zip to write (default: autograder-NN_slug.zip)")
    run = commands.add_parser("run", help="grade /autograder/submission (what run_autograder does)")
    run.add_argument("--root", type=pathlib.Path,
                     default=pathlib.Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    run.add_argument("--set", dest="exercise_set", required=True)
    args = parser.parse_args(argv)
    if args.command == "bundle":
        sets = available_sets(args.tests) if args.tests.is_dir() else {}
        if args.exercise_set not in sets:
            parser.error(f"no {args.exercise_set}_tests.py in {args.tests}")
        out = write_bundle(args.exercise_set, sets[args.exercise_set],
                           args.out or pathlib.Path(f"autograder-{args.exercise_set}.zip"))
        print(f"wrote {out}: upload it as the autograder of {args.exercise_set} on Gradescope")
        return 0
    result = grade_submission(args.root, args.exercise_set)
    print(f"score {result['score']:g}" + (f"/{result['max_score']:g}" if "max_score" in result else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
