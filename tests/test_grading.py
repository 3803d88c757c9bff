"""The exercise grader's tests are real.

One parallel run of ``python -m utils.grading`` grades, for every exercise set: its solution
(full marks), its unmodified exercise notebook (zero), its mutants (wrong solutions that must
lose points) and its cheating submissions (chapter 1's red team against the grader; other sets'
attempts to get around their "write it yourself" rules): zero on the cheated exercise, full marks
on the others, and the grader finishes. The cases are declared in
tests/grading_cases/NN_slug.toml. Fast unit tests of the pieces follow. The notebooks themselves
run in a kernel under nbval (tests/test_notebooks_nbval.py); scenarios and "write it yourself"
rules have their worked example in tests/test_grading_scenarios.py.
"""

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from itertools import pairwise

import nbformat
import numpy as np
import pytest
import torch

from tools import make_exercises
from utils.grading import channel, check, hidden, notebook, plain, public
from utils.grading.expect import Failure, StudentError, as_array, expect_close

ROOT = make_exercises.ROOT
CASES = ROOT / "tests" / "grading_cases"
SET_NAMES = [p.stem for p in sorted((ROOT / "solutions").glob("*.ipynb"))
             if (ROOT / "solutions" / f"{p.stem}_tests.py").exists()]
GRADER_LIMITS = ["--jobs", "2", "--call-timeout", "8", "--cell-timeout", "10", "--total-timeout", "120",
                 "--memory", "2048"]
FORK_MARKER = "98765"  # in the command lines of the processes the fork cheat leaves behind
pytestmark = pytest.mark.xdist_group("grading")  # with pytest -n N --dist loadgroup, one worker grades once


def cases_of(set_name):
    path = CASES / f"{set_name}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:50]


def mutant_rounds(set_name):
    """Mutants grouped so that each notebook mutates every exercise at most once."""
    per_exercise = {}
    for mutant in cases_of(set_name).get("mutant", []):
        per_exercise.setdefault(mutant["exercise"], []).append(mutant)
    depth = max((len(m) for m in per_exercise.values()), default=0)
    return [[ms[k] for ms in per_exercise.values() if len(ms) > k] for k in range(depth)]


MUTANTS = [(s, k, m) for s in SET_NAMES for k, r in enumerate(mutant_rounds(s)) for m in r]
CHEATS = [(s, c) for s in SET_NAMES for c in cases_of(s).get("cheat", [])]


def read_solution(set_name):
    return nbformat.read(ROOT / "solutions" / f"{set_name}.ipynb", as_version=4)


def mutate(solution, mutants):
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    for mutant in mutants:
        cells = [c for c in nb.cells if c.cell_type == "code" and mutant["old"] in c.source]
        count = sum(c.source.count(mutant["old"]) for c in cells)
        assert count == 1, f"mutant {mutant['name']!r}: {mutant['old']!r} occurs {count} times, not once"
        cells[0].source = cells[0].source.replace(mutant["old"], mutant["new"])
    return nb


def with_cheat(solution, cheat, placeholders):
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    defines = re.compile(rf"^(def|class) {re.escape(cheat['exercise'])}\b", re.MULTILINE)
    cells = [c for c in nb.cells if c.cell_type == "code" and defines.search(c.source)]
    assert len(cells) == 1, f"cheat {cheat['name']!r}: no single cell defines {cheat['exercise']}"
    code = cheat["code"]
    for key, value in placeholders.items():
        code = code.replace(f"@@{key}@@", str(value))
    cells[0].source = code.strip("\n")
    compile(cells[0].source, f"cheat {cheat['name']!r}", "exec")  # a cheat that cannot compile proves nothing
    return nb


@dataclasses.dataclass
class GradingRun:
    results: dict          # submission name -> results.json
    process: subprocess.CompletedProcess
    seconds: float
    out: object
    tests_dir: object
    digests_before: dict
    sentinel: object
    leftovers: list        # processes of the fork cheat still alive after the grader returned


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _processes_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                command = file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in command and "pytest" not in command:
            found.append(command)
    return found


@pytest.fixture(scope="module")
def listener():
    """A TCP port on this machine's loopback that accepts connections (the network cheat's target)."""
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: [server.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def sets_the_selected_tests_need(request):
    """Every set, unless each selected test that grades names its set (``pytest -k 06_optimizers``)."""
    needed = set()
    for item in request.session.items:
        if "run" not in getattr(item, "fixturenames", ()):
            continue
        set_name = getattr(item, "callspec", None) and item.callspec.params.get("set_name")
        if not set_name:
            return SET_NAMES
        needed.add(set_name)
    return [name for name in SET_NAMES if name in needed]


@pytest.fixture(scope="module")
def run(request, tmp_path_factory, listener):
    """Every case of every exercise set the selected tests need, graded in one parallel run."""
    base = tmp_path_factory.mktemp("grading")
    submissions, tests_dir, out = base / "submissions", base / "tests", base / "out"
    submissions.mkdir()
    tests_dir.mkdir()
    for path in (ROOT / "solutions").glob("*_tests.py"):
        shutil.copy(path, tests_dir / path.name)
    sentinel = ROOT / "utils" / "grading" / f".sentinel-{uuid.uuid4().hex}"
    sentinel.write_text("the sandbox must not change this file\n")
    for set_name in sets_the_selected_tests_need(request):
        solution = read_solution(set_name)
        nbformat.write(solution, submissions / f"{set_name}_solution.ipynb")
        shutil.copy(ROOT / "exercises" / f"{set_name}.ipynb", submissions / f"{set_name}_exercise.ipynb")
        for k, mutants in enumerate(mutant_rounds(set_name)):
            nbformat.write(mutate(solution, mutants), submissions / f"{set_name}_mutants_{k}.ipynb")
        for cheat in cases_of(set_name).get("cheat", []):
            name = f"{set_name}_cheat_{slug(cheat['name'])}"
            placeholders = {"REPO": ROOT, "TESTS_FILE": tests_dir / f"{set_name}_tests.py", "OUT_DIR": out,
                            "SENTINEL": sentinel, "PORT": listener, "NAME": name}
            nbformat.write(with_cheat(solution, cheat, placeholders), submissions / f"{name}.ipynb")
    (submissions / "not_json.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (submissions / "report.pdf").write_bytes(b"%PDF-1.4 not a notebook")
    (submissions / "plain_json.ipynb").write_text('{"hello": "world"}')
    (submissions / "bad_set_name.ipynb").write_text(json.dumps(
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {"dlbook": {"exercise_set": "../../etc/passwd"}},
         "cells": []}))
    digests = {path: _digest(path) for path in [*tests_dir.iterdir(), sentinel]}

    start = time.monotonic()
    command = [sys.executable, "-m", "utils.grading", str(submissions), "--tests", str(tests_dir),
               "--out", str(out), *GRADER_LIMITS]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - start
    time.sleep(1.5)  # room for anything the fork cheat left behind to show itself
    leftovers = _processes_with(FORK_MARKER)
    results = {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/results.json")}
    print(f"\ngraded {len(results)} submissions in {seconds:.0f} s\n{process.stdout}")
    yield GradingRun(results, process, seconds, out, tests_dir, digests, sentinel, leftovers)
    sentinel.unlink(missing_ok=True)


def exercise_scores(result):
    return result["extra_data"]["exercises"]


# ---- the run as a whole ------------------------------------------------------------------------

def test_grader_finishes_with_success_and_a_report_for_every_file(run):
    assert run.process.returncode == 0, run.process.stderr[-3000:]
    assert "GRADER ERROR" not in run.process.stderr
    graded_files = sorted(p.name for p in (run.out.parent / "submissions").iterdir())
    with open(run.out / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["submission"] for row in rows) == graded_files
    for name in graded_files:
        assert name in run.process.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                    reason="the full sandbox needs root")
def test_sandbox_raised_every_fence(run):
    line = next(line for line in run.process.stdout.splitlines() if line.startswith("sandbox:"))
    for fence in ("no network", "own process ids", "hidden folders covered", "read-only files outside",
                  "own /proc", "unprivileged uid", "no capabilities"):
        assert fence in line
    assert "WARNING" not in run.process.stderr


@pytest.mark.parametrize("set_name", SET_NAMES)
def test_solution_scores_full_marks(run, set_name):
    result = run.results[f"{set_name}_solution"]
    failed = [t for t in result["tests"] if t["score"] < t["max_score"]]
    assert result["score"] == result["max_score"] > 0, failed
    assert not result["output"], result["output"]  # every cell ran without error


@pytest.mark.parametrize("set_name", SET_NAMES)
def test_unmodified_exercise_scores_zero(run, set_name):
    result = run.results[f"{set_name}_exercise"]
    assert result["max_score"] > 0 and result["score"] == 0
    assert all(t["output"] == "Not implemented yet." for t in result["tests"])


@pytest.mark.parametrize(("set_name", "round_", "mutant"), MUTANTS,
                         ids=[f"{s}-{m['exercise']}-{slug(m['name'])}" for s, _, m in MUTANTS])
def test_mutant_loses_points(run, set_name, round_, mutant):
    score, max_score = exercise_scores(run.results[f"{set_name}_mutants_{round_}"])[mutant["exercise"]]
    assert score < max_score, f"the hidden tests do not catch the mutant {mutant['name']!r}"


@pytest.mark.parametrize(("set_name", "cheat"), CHEATS, ids=[f"{s}-{slug(c['name'])}" for s, c in CHEATS])
def test_cheat_scores_zero_and_the_other_exercises_are_graded_normally(run, set_name, cheat):
    result = run.results[f"{set_name}_cheat_{slug(cheat['name'])}"]
    scores = exercise_scores(result)
    assert scores[cheat["exercise"]][0] == 0, result["tests"]
    others = {name: s for name, s in scores.items() if name != cheat["exercise"] and s[0] < s[1]}
    assert not others, f"other exercises lost points: {others}\n{result['output']}"
    assert result["score"] == sum(t["score"] for t in result["tests"])
    if "notes" in cheat:
        assert cheat["notes"] in result["output"], result["output"]
    else:
        assert result["output"] == "", f"the cheat did not run as written: {result['output']}"


def test_hidden_tests_and_solutions_never_reach_a_student(run):
    source = (ROOT / "solutions" / "01_perceptrons_tests.py").read_text()
    secret_lines = [line.strip() for line in source.splitlines() if line.strip().startswith("def ")]
    for name, result in run.results.items():
        text = json.dumps(result)
        assert "LEAKED" not in text, f"{name} read a hidden file: {text[:500]}"
        assert not [line for line in secret_lines if line in text], name


def test_files_the_cheats_attacked_are_unchanged(run):
    for path, digest in run.digests_before.items():
        assert _digest(path) == digest, f"{path} was changed by a submission"
    assert not (run.out / "results.json").exists()  # a cheat tried to write it


def test_no_process_outlives_its_submission(run):
    assert run.leftovers == []
    name = f"01_perceptrons_cheat_{slug('forks children that outlive it and try to fake results later')}"
    if name in run.results:
        assert len(run.results[name]["tests"]) > 1  # the grader's report, not the cheat's fake


@pytest.mark.parametrize("name", ["not_json", "report.pdf", "plain_json", "bad_set_name"])
def test_a_file_that_is_not_a_gradable_notebook_scores_zero_with_a_reason(run, name):
    result = run.results[name]
    assert result["score"] == 0
    assert result["output"].startswith("Not graded:"), result["output"]


# ---- the exercise set is consistent ------------------------------------------------------------

def exercises_in(set_name):
    """{exercise name: points in its prompt}, read from the solution notebook."""
    found, points = {}, None
    for cell in read_solution(set_name).cells:
        heading = re.search(r"^## Exercise \d+:.*\((\d+) points?\)", cell.source, re.MULTILINE)
        if cell.cell_type == "markdown" and heading:
            points = int(heading.group(1))
        defined = re.search(r"^(?:def|class) (\w+)", cell.source, re.MULTILINE)
        if cell.cell_type == "code" and defined and points is not None:
            found[defined.group(1)], points = points, None
    return found


@pytest.mark.parametrize("set_name", SET_NAMES)
def test_prompts_checks_hidden_tests_and_mutants_agree(set_name):
    exercises = exercises_in(set_name)
    assert len(exercises) >= 4, "BOOK.md asks for 4+ coding exercises per chapter"
    hidden_points = {}
    for test in hidden.load_tests(ROOT / "solutions" / f"{set_name}_tests.py"):
        hidden_points[test.exercise] = hidden_points.get(test.exercise, 0) + test.points
    assert hidden_points == exercises, "the points in the prompts must equal the hidden tests' points"
    source = "\n".join(c.source for c in read_solution(set_name).cells if c.cell_type == "code")
    mutated = [m["exercise"] for m in cases_of(set_name).get("mutant", [])]
    for name in exercises:
        assert f"check({name})" in source, f"{name} has no check cell"
        assert public.tests_for(name), f"{name} has no visible tests in utils/grading/public/"
        assert mutated.count(name) >= 2, f"{name} needs at least two mutants in tests/grading_cases/"


def test_visible_check_names_belong_to_one_chapter_each():
    for name, tests in public.load_all().items():
        modules = {t.function.__module__ for t in tests}
        assert len(modules) == 1, f"{name} has visible tests in several modules: {modules}"


def test_exercises_match_their_solutions(capsys):
    assert make_exercises.main(["--check"]) == 0, capsys.readouterr().out


def test_check_mode_lists_a_drifted_exercise(tmp_path, monkeypatch, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    for name in SET_NAMES:
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", tmp_path / "solutions")
        text = (ROOT / "exercises" / f"{name}.ipynb").read_text()
        edited = text.replace("Not implemented yet", "Edited by hand")
        (tmp_path / "exercises" / f"{name}.ipynb").write_text(edited)
    monkeypatch.setattr(make_exercises, "ROOT", tmp_path)
    monkeypatch.setattr(make_exercises, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(make_exercises, "EXERCISES", tmp_path / "exercises")
    assert make_exercises.main(["--check"]) == 1
    assert f"exercises/{SET_NAMES[0]}.ipynb" in capsys.readouterr().out
    assert make_exercises.main([]) == 0
    assert make_exercises.main(["--check"]) == 0


@pytest.mark.parametrize(("source", "problem"), [
    ("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "not inside a function"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "never closed"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION", "inside another"),
    ("def f():\n    ### END SOLUTION", "without a ### BEGIN SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1", "exactly"),
])
def test_marker_mistakes_are_reported(source, problem):
    with pytest.raises(make_exercises.MarkerError, match=problem):
        make_exercises.strip_solutions(source, "cell 3")


def test_stub_keeps_the_code_outside_the_markers():
    source = ("class M:\n    def __init__(self):\n        super().__init__()\n        ### BEGIN SOLUTION\n"
              "        self.x = 1\n        ### END SOLUTION\n")
    assert make_exercises.strip_solutions(source, "cell") == (
        f"class M:\n    def __init__(self):\n        super().__init__()\n        {make_exercises.STUB}")


# ---- plain data and the channel ----------------------------------------------------------------

def test_plain_data_comes_back_as_exact_builtin_types():
    class Sub(np.ndarray):
        pass

    value = {"a": np.arange(6, dtype=np.int32).reshape(2, 3).view(Sub),
             "t": torch.ones(2, dtype=torch.bfloat16),
             "nested": [1, 2.5, None, True, "s", (np.float32(1.5), np.int64(3))], "empty": np.zeros((0, 4))}
    back = plain.roundtrip(value)
    assert type(back["a"]) is np.ndarray and back["a"].dtype == np.int32
    assert back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(back["t"]) is torch.Tensor and back["t"].dtype == torch.bfloat16
    assert back["nested"] == [1, 2.5, None, True, "s", (1.5, 3)]
    assert type(back["nested"][5][0]) is float and type(back["nested"][5][1]) is int
    assert back["empty"].shape == (0, 4)


@pytest.mark.parametrize("value", [object(), np.array([object()]), {1: "int key"}, b"bytes", 1 + 2j,
                                   [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
def test_values_that_are_not_plain_data_are_refused(value):
    with pytest.raises(plain.NotPlainData):
        plain.encode(value)


@pytest.mark.parametrize("tree", [{"pickle": "cos\nsystem\n"}, {"ndarray": ["object", [1], 0]},
                                  {"ndarray": ["float64", [3], 0]}, {"tuple": [1], "dict": {}},
                                  {"handle": "x"}])
def test_malformed_messages_are_refused(tree):
    with pytest.raises(plain.ProtocolError):
        plain.decode(json.dumps(tree).encode(), [b"\0" * 8])


def test_channel_refuses_oversized_messages_and_keeps_deadlines():
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, channel.HEADER.pack(channel.MAGIC, 0, 2**31, 0))
        with pytest.raises(plain.ProtocolError):
            channel.receive(read_end, deadline=time.monotonic() + 1)
        with pytest.raises(channel.ChannelTimeout):
            channel.receive(read_end, deadline=time.monotonic() + 0.2)
        channel.send(write_end, {"ok": [np.eye(2)]})
        assert channel.receive(read_end, deadline=time.monotonic() + 1)["ok"][0].tolist() == [[1, 0], [0, 1]]
    finally:
        os.close(read_end)
        os.close(write_end)


# ---- feedback in the student's notebook ----------------------------------------------------------

def printed_by_check(*args):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        check(*args)
    return buffer.getvalue()


def test_check_gives_friendly_feedback_and_never_raises(monkeypatch):
    monkeypatch.delenv("DLBOOK_GRADER", raising=False)

    def perceptron_predict(X, w, b):
        raise NotImplementedError("Not implemented yet")

    assert "not implemented yet" in printed_by_check(perceptron_predict)
    column = printed_by_check("perceptron_predict", lambda X, w, b: ((X @ w + b) >= 0).astype(int)[:, None])
    assert "should have shape (4,), but it has shape (4, 1)" in column and "hint:" in column
    def refuses(X, w, b):
        raise ValueError("nope")

    assert "raised ValueError: nope" in printed_by_check("perceptron_predict", refuses)
    def count_parameters(sizes):
        return sum(a * b + b for a, b in pairwise(sizes))

    assert "✔" in printed_by_check(count_parameters)
    assert "no visible checks" in printed_by_check("no_such_exercise", print)


def test_helpers_convert_to_exact_types_with_clear_messages():
    with pytest.raises(Failure, match=r"should have shape \(2, any\)"):
        as_array(np.zeros((3, 3)), "W", shape=(2, None))
    with pytest.raises(Failure, match="2 of 3 values differ"):
        expect_close([1.0, 5.0, 7.0], np.array([1.0, 2.0, 3.0]), "y")
    with pytest.raises(Failure, match="NaN"):
        expect_close([np.nan], np.array([1.0]), "y")
    assert StudentError("NotImplementedError", "").not_implemented


def test_submissions_that_are_not_notebooks_are_named_as_such(tmp_path):
    (tmp_path / "a.ipynb").write_text('{"nbformat": 3, "worksheets": []}')
    with pytest.raises(notebook.NotANotebook, match="format 3"):
        notebook.read_submission(tmp_path / "a.ipynb")
    with pytest.raises(notebook.NotANotebook, match="has no hidden tests"):
        notebook.choose_set(tmp_path / "a.ipynb", "../../x", {"01_perceptrons": None})


def test_a_bug_in_a_hidden_test_is_the_graders_failure(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "99_broken_tests.py").write_text(
        "from utils.grading.hidden import hidden_test\n\n\n"
        "@hidden_test('f', points=1)\ndef divides_by_zero(student):\n    return student.f() / 0\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f():\n    return 1")])
    nbformat.write(nb, tmp_path / "99_broken.ipynb")
    result = subprocess.run([sys.executable, "-m", "utils.grading", str(tmp_path / "99_broken.ipynb"),
                             "--tests", str(tmp_path / "tests"), "--out", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "GRADER ERROR" in result.stderr and "ZeroDivisionError" in result.stderr
    output = json.loads((tmp_path / "out" / "results.json").read_text())["tests"][0]["output"]
    assert output == hidden.GRADER_BUG_TEXT
