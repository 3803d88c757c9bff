"""The Gradescope autograder zip works: unpacked into a folder laid out like Gradescope's
``/autograder``, its ``run_autograder`` grades a solution (full marks), an untouched exercise
(zero) and a cheat (zero on what it cheats) into ``results/results.json``."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from tests.test_grading import ROOT, cases_of, read_solution, with_cheat
from utils.grading import gradescope

pytestmark = pytest.mark.xdist_group("grading")
SET = "01_perceptrons"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert gradescope.main(["bundle", SET, "--out", str(out)]) == 0
    return out


def autograde(bundle, root, notebook=None):
    """Unpack ``bundle`` as Gradescope does, submit ``notebook`` and run ``run_autograder``."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    if notebook is not None:
        nbformat.write(notebook, root / "submission" / "my_notebook.ipynb")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    process = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_what_gradescope_runs(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        mode = archive.getinfo("run_autograder").external_attr >> 16
    assert {"setup.sh", "run_autograder", f"tests/{SET}_tests.py", "requirements.txt",
            "requirements-lock.txt", "utils/grading/__main__.py"} <= names
    assert not [n for n in names if n.startswith("solutions/") or n.endswith(".ipynb") or "__pycache__" in n]
    pin = re.search(r"^torch==\S+", (ROOT / "requirements-lock.txt").read_text(), re.MULTILINE).group(0)
    assert f'pip install -q "{pin}" --index-url https://download.pytorch.org/whl/cpu' in setup
    assert "-r requirements.txt -c requirements-lock.txt" in setup
    assert f"--set {SET}" in run and mode & 0o111
    for script in (setup, run):
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_a_solution_scores_full_marks(bundle, tmp_path):
    result = autograde(bundle, tmp_path, read_solution(SET))
    assert result["score"] == result["max_score"] > 0, result["tests"]
    assert result["extra_data"]["exercise_set"] == SET


def test_an_untouched_exercise_scores_zero(bundle, tmp_path):
    result = autograde(bundle, tmp_path, nbformat.read(ROOT / "exercises" / f"{SET}.ipynb", as_version=4))
    assert result["max_score"] > 0 and result["score"] == 0


def test_a_cheat_scores_zero_on_what_it_cheats(bundle, tmp_path):
    name = "object whose __eq__ and __bool__ always say yes"
    cheat = next(c for c in cases_of(SET)["cheat"] if c["name"] == name)
    result = autograde(bundle, tmp_path, with_cheat(read_solution(SET), cheat, {}))
    scores = result["extra_data"]["exercises"]
    assert scores[cheat["exercise"]][0] == 0
    assert all(s[0] == s[1] for name, s in scores.items() if name != cheat["exercise"]), scores


def test_no_notebook_gives_zero_with_a_reason(bundle, tmp_path):
    result = autograde(bundle, tmp_path)
    assert result["score"] == 0 and "No notebook" in result["output"]
