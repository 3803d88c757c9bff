"""Every solution and exercise notebook runs top to bottom in a fresh kernel, under nbval.

One run of ``pytest --nbval-lax`` executes them all, once (the grader's tests run the notebooks'
code in the sandbox, not in a kernel, and no other test executes them). nbval fails a notebook on
any cell that raises, and compares the output of the cells whose output is deterministic: the
check cells. Committed notebooks carry no outputs, so a copy of each notebook gets, in each
``check(name)`` cell, the exact line ``check`` prints when all visible tests pass (solutions) or
when the exercise is still the stub (exercises), tagged ``nbval-check-output``. Each notebook's
time (kernel start included) comes from nbval's JUnit report and must stay within 60 s.
"""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat
import pytest

from tools import make_exercises
from utils.grading import public
from utils.grading.check import GRADER_ENV_VAR, not_implemented_text, passed_text

ROOT = make_exercises.ROOT
SET_NAMES = [p.stem for p in sorted((ROOT / "solutions").glob("*.ipynb"))
             if (ROOT / "solutions" / f"{p.stem}_tests.py").exists()]
FOLDERS = ("solutions", "exercises")
BUDGET_SECONDS = 60
CHECK_CELL = re.compile(r"check\((\w+)\)")


def with_expected_check_outputs(path, folder):
    """The notebook at ``path`` with the output each check cell must print, for nbval to compare."""
    nb = nbformat.read(path, as_version=4)
    checks = 0
    for cell in nb.cells:
        match = CHECK_CELL.fullmatch(cell.source.strip()) if cell.cell_type == "code" else None
        assert match or not (cell.cell_type == "code" and cell.source.startswith("check(")), \
            f"{path}: a check cell holds exactly one line, check(name): {cell.source!r}"
        if match:
            name = match.group(1)
            if folder == "solutions":
                text = passed_text(name, len(public.tests_for(name)))
            else:
                text = not_implemented_text(name)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
            cell.execution_count = 1  # nbval compares only cells that were run
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "nbval-check-output"]
            checks += 1
    assert checks, f"{path} has no check(...) cells"
    return nb


def sets_the_selected_tests_need(request):
    """The sets whose notebooks the selected tests look at (``pytest -k 06_optimizers`` runs only those)."""
    return [name for name in SET_NAMES
            if any(getattr(item, "callspec", None) and item.callspec.params.get("set_name") == name
                   for item in request.session.items if "nbval_run" in getattr(item, "fixturenames", ()))]


@pytest.fixture(scope="module")
def nbval_run(request, tmp_path_factory):
    """{notebook: (seconds, [failure messages])} from one nbval run over copies of the notebooks."""
    base = tmp_path_factory.mktemp("nbval")
    (base / "utils").symlink_to(ROOT / "utils")  # what the set-up cell looks for next to the notebooks
    for folder in FOLDERS:
        (base / folder).mkdir()
        for set_name in sets_the_selected_tests_need(request):
            nb = with_expected_check_outputs(ROOT / folder / f"{set_name}.ipynb", folder)
            nbformat.write(nb, base / folder / f"{set_name}.ipynb")
    junit = base / "nbval.xml"
    env = {key: value for key, value in os.environ.items() if key != GRADER_ENV_VAR}
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               f"--nbval-cell-timeout={BUDGET_SECONDS}", "-p", "no:cacheprovider", "-q",
               f"--junitxml={junit}", *FOLDERS]
    process = subprocess.run(command, cwd=base, env=env, capture_output=True, text=True, timeout=1800)
    print(process.stdout[-3000:])
    assert junit.exists(), process.stdout[-3000:] + process.stderr[-3000:]
    notebooks = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        seconds, failures = notebooks.setdefault(case.get("classname"), (0.0, []))
        failures += [f"{case.get('name')}: {problem.get('message', '')}\n{problem.text or ''}"
                     for problem in case if problem.tag in ("failure", "error")]
        notebooks[case.get("classname")] = (seconds + float(case.get("time")), failures)
    return notebooks


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("set_name", SET_NAMES)
def test_notebook_runs_top_to_bottom_within_budget_with_the_expected_checks(nbval_run, folder, set_name):
    seconds, failures = nbval_run[f"{folder}.{set_name}.ipynb"]
    print(f"{folder}/{set_name}.ipynb executed in {seconds:.1f} s")
    assert not failures, "\n\n".join(failures)[:5000]
    assert seconds <= BUDGET_SECONDS
