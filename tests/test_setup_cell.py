"""The set-up cell that opens every notebook, run as Colab runs it (and where it must fail clearly).

Each run is a fresh Python process in a fresh working directory, like a Colab runtime: a fake
``google.colab`` module records ``output.enable_custom_widget_manager()``, the repository URL
points at a local git repository holding this working tree's ``utils``, and ``pip`` is
intercepted, so the test sees exactly what would be installed. The cell's source comes from
``tools.notebooks.SETUP_CELL``, the one every notebook is synced from.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tools.notebooks import ROOT, SETUP_CELL

# Runs the cell the way Colab would, then prints what happened as JSON on the last line.
RUNNER = r'''
import json, subprocess, sys, types
cell, colab = sys.argv[1], sys.argv[2] == "colab"
installs, widget_managers = [], []
real_run = subprocess.run

def run(command, *args, **kwargs):
    if "pip" in command:  # record, do not install
        installs.append(command[command.index("pip"):])
        return subprocess.CompletedProcess(command, 0)
    return real_run(command, *args, **kwargs)

subprocess.run = run
if colab:
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: widget_managers.append(True))
    google, google_colab = types.ModuleType("google"), types.ModuleType("google.colab")
    google.colab, google_colab.output = google_colab, output
    sys.modules.update({"google": google, "google.colab": google_colab})
    sys.modules["anywidget"] = None  # Colab lacks anywidget: importing it fails there
namespace = {}
exec(cell, namespace)
print(json.dumps({"installs": installs, "widget_managers": len(widget_managers), "root": namespace["ROOT"],
                  "device": str(namespace["DEVICE"]), "scale": namespace["SCALE"]}))
'''


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def book_repo(tmp_path_factory):
    """A local git repository with this working tree's utils/: what the cell clones."""
    repo = tmp_path_factory.mktemp("origin") / "dl-book"
    shutil.copytree(ROOT / "utils", repo / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "book", cwd=repo)
    return repo


def run_cell(workdir, repo=None, colab=True, **env):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DLBOOK_")}
    environment.update(PYTHONPATH="", OMP_NUM_THREADS="1", **env)
    if repo is not None:
        environment["DLBOOK_REPO_URL"] = repo.as_uri()
    result = subprocess.run([sys.executable, "-c", RUNNER, SETUP_CELL, "colab" if colab else "local"],
                            cwd=workdir, env=environment, capture_output=True, text=True, timeout=120)
    return result


def report(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_on_colab_the_cell_clones_installs_only_anywidget_and_enables_widgets(book_repo, tmp_path):
    first = run_cell(tmp_path, book_repo)
    done = report(first)
    assert done["installs"] == [["pip", "install", "-q", "anywidget"]]  # never torch or numpy
    assert done["widget_managers"] == 1 and done["root"] == "dl-book"
    assert done["device"] == "cpu" and done["scale"] == "cpu"
    assert (tmp_path / "dl-book" / "utils" / "env.py").is_file()
    assert "No GPU in this Colab runtime" in first.stdout
    head = subprocess.run(["git", "-C", "dl-book", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout

    # Running the cell again, and again after a restart (a new process), reuses the copy.
    for _ in range(2):
        again = report(run_cell(tmp_path, book_repo))
        assert again["root"] == "dl-book" and again["widget_managers"] == 1
        assert again["installs"] == [["pip", "install", "-q", "anywidget"]]
    assert subprocess.run(["git", "-C", "dl-book", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout == head


def test_a_stale_copy_is_refreshed_only_when_asked(book_repo, tmp_path):
    report(run_cell(tmp_path, book_repo))
    marker = book_repo / "utils" / "refreshed.txt"
    marker.write_text("a newer commit\n")
    git("add", ".", cwd=book_repo)
    git("commit", "-q", "-m", "newer", cwd=book_repo)
    try:
        report(run_cell(tmp_path, book_repo))
        assert not (tmp_path / "dl-book" / "utils" / "refreshed.txt").exists()
        report(run_cell(tmp_path, book_repo, DLBOOK_REFRESH="1"))
        assert (tmp_path / "dl-book" / "utils" / "refreshed.txt").is_file()
    finally:
        marker.unlink()
        git("add", "-A", ".", cwd=book_repo)
        git("commit", "-q", "-m", "undo", cwd=book_repo)


def test_inside_the_book_the_cell_finds_utils_without_cloning(tmp_path):
    done = report(run_cell(ROOT / "chapters", colab=False))
    assert done["root"] == ".." and done["installs"] == [] and done["widget_managers"] == 0


@pytest.mark.parametrize("empty_clone", [False, True])
def test_outside_the_book_the_cell_says_where_it_looked(tmp_path, empty_clone):
    if empty_clone:
        (tmp_path / "dl-book").mkdir()  # e.g. a clone that failed halfway
    result = run_cell(tmp_path, colab=False)
    assert result.returncode != 0 and "StopIteration" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("FileNotFoundError: The book's utils/env.py is not in " + str(tmp_path))
    assert "its parent or ./dl-book" in last and "git clone https://github.com/" in last
