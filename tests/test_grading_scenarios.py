"""Scenarios and "write it yourself" rules: the grader sees behaviour, and enforces the prompts.

The worked example (tests/grading_fixtures/90_behaviour*: an optimizer updating tensors in place,
a module with buffers and a train/eval switch, gradients through a module, an in-place update,
an input that must not change, a result that must carry a grad_fn, a forbidden library call) is
graded by the command line, like a chapter's set: its solution scores full marks, its stub zero,
and every mutant loses points. Fast unit tests of the pieces follow.
"""

import json
import shutil
import subprocess
import sys
import time
import tomllib

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.test_grading import printed_by_check
from tools import make_exercises
from utils.grading import kernel, public, rules, scenario
from utils.grading.check import LocalStudent
from utils.grading.expect import StudentError, as_array, expect_close
from utils.grading.public import visible_test

ROOT = make_exercises.ROOT
FIXTURES = ROOT / "tests" / "grading_fixtures"
SET_NAME = "90_behaviour"
MUTANTS = tomllib.loads((FIXTURES / f"{SET_NAME}.toml").read_text(encoding="utf-8"))["mutant"]
pytestmark = pytest.mark.xdist_group("grading")


def mutant_rounds():
    """Mutants grouped so that each notebook mutates every exercise at most once."""
    per_exercise = {}
    for mutant in MUTANTS:
        per_exercise.setdefault(mutant["exercise"], []).append(mutant)
    depth = max(len(m) for m in per_exercise.values())
    return [[ms[k] for ms in per_exercise.values() if len(ms) > k] for k in range(depth)]


def mutate(solution, mutants):
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    for mutant in mutants:
        cells = [c for c in nb.cells if c.cell_type == "code" and mutant["old"] in c.source]
        count = sum(c.source.count(mutant["old"]) for c in cells)
        assert count == 1, f"mutant {mutant['name']!r}: {mutant['old']!r} occurs {count} times, not once"
        cells[0].source = cells[0].source.replace(mutant["old"], mutant["new"])
    return nb


# A detached result (a mutant) from a notebook that also patched torch so that every tensor seems to
# have a grad_fn: the scenario runs against the library as imported, so the lie does not reach it.
LIBRARY_PATCH = {"old": "import torch\n",
                 "new": "import torch\n\ntorch.Tensor.grad_fn = property(lambda self: 'a lie')\n"}
DETACHED = next(m for m in MUTANTS if m["name"] == "returns a detached result")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The worked example's solution, stub and mutant notebooks, graded in one run of the command."""
    base = tmp_path_factory.mktemp("scenarios")
    submissions, tests_dir, out = base / "submissions", base / "tests", base / "out"
    submissions.mkdir()
    tests_dir.mkdir()
    shutil.copy(FIXTURES / f"{SET_NAME}_tests.py", tests_dir)
    solution = nbformat.read(FIXTURES / f"{SET_NAME}.ipynb", as_version=4)
    nbformat.write(solution, submissions / "solution.ipynb")
    nbformat.write(make_exercises.exercise_notebook(solution, SET_NAME), submissions / "stub.ipynb")
    for k, mutants in enumerate(mutant_rounds()):
        nbformat.write(mutate(solution, mutants), submissions / f"mutants_{k}.ipynb")
    nbformat.write(mutate(solution, [LIBRARY_PATCH, DETACHED]), submissions / "library_patch.ipynb")
    start = time.monotonic()
    command = [sys.executable, "-m", "utils.grading", str(submissions), "--tests", str(tests_dir),
               "--out", str(out), "--jobs", "2"]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    print(f"\ngraded the worked example in {time.monotonic() - start:.1f} s\n{process.stdout}")
    assert process.returncode == 0, process.stderr[-3000:]
    return {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/results.json")}


def test_worked_example_solution_scores_full_marks(graded):
    result = graded["solution"]
    failed = [t for t in result["tests"] if t["score"] < t["max_score"]]
    assert result["score"] == result["max_score"] == 12, failed
    assert result["output"] == "", result["output"]


def test_worked_example_stub_scores_zero(graded):
    result = graded["stub"]
    assert result["max_score"] == 12 and result["score"] == 0
    assert all(t["output"] == "Not implemented yet." for t in result["tests"]), result["tests"]


@pytest.mark.parametrize(("round_", "mutant"), [(k, m) for k, r in enumerate(mutant_rounds()) for m in r],
                         ids=[m["name"][:60] for r in mutant_rounds() for m in r])
def test_worked_example_mutant_loses_points(graded, round_, mutant):
    score, max_score = graded[f"mutants_{round_}"]["extra_data"]["exercises"][mutant["exercise"]]
    assert score < max_score, f"the scenarios do not catch the mutant {mutant['name']!r}"


def test_a_notebook_that_patches_torch_does_not_change_what_a_scenario_measures(graded):
    result = graded["library_patch"]
    failed = [t["name"] for t in result["tests"] if t["score"] < t["max_score"]]
    assert failed == ["standardized: with an input that requires grad, the result has the right values and a "
                      "grad_fn"], result["tests"]


def test_a_forbidden_call_fails_with_the_rule_in_the_students_feedback(graded):
    layer_norm_round = next(k for k, r in enumerate(mutant_rounds()) for m in r if "layer_norm" in m["new"])
    outputs = [t["output"] for t in graded[f"mutants_{layer_norm_round}"]["tests"]
               if t["name"].startswith("standardized")]
    assert outputs and all("WriteItYourselfError: this exercise asks you to write standardized yourself, "
                           "so torch.nn.functional.layer_norm is switched off" in o for o in outputs), outputs


# ---- scenarios: what the grader accepts ----------------------------------------------------------

def reports_a_gradient(student, x):
    t = torch.tensor(x, requires_grad=True)
    out = student.square(t)
    out.sum().backward()
    return {"out": out, "grad": t.grad, "has_grad_fn": out.grad_fn is not None, "x_after": t.detach()}


def test_a_scenario_runs_next_to_the_students_objects_and_returns_plain_data():
    student = LocalStudent({"square": lambda t: t * t})
    got = student.run(reports_a_gradient, [1.0, -2.0])
    assert type(got["grad"]) is torch.Tensor and got["grad"].tolist() == [2.0, -4.0]
    assert got["has_grad_fn"] is True and got["out"].requires_grad is False  # data, detached on the way


def judges_in_place(student, x):
    t = torch.tensor(x)
    out = student.square_(t)
    return {"unchanged": bool(torch.equal(t, torch.tensor(x))), "has_grad_fn": out.grad_fn is not None,
            "parameters": len(list(torch.nn.Linear(2, 2).named_parameters()))}


def test_a_scenario_runs_against_the_library_as_it_was_before_the_notebook(monkeypatch):
    """What a notebook patched at its top is undone while a scenario runs, and put back after it."""
    snapshot = kernel.library_snapshot()
    lie = property(lambda self: "a lie")
    monkeypatch.setattr(torch, "equal", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.Tensor, "grad_fn", lie, raising=False)
    monkeypatch.setattr(torch.nn.Module, "named_parameters", lambda self, *a, **k: iter(()))
    monkeypatch.setattr(torch, "a_new_name", 1, raising=False)
    student = kernel.Kernel({"square_": lambda t: t.mul_(t)}, library=snapshot)
    source = scenario.source_of(judges_in_place)
    reply = student.handle({"op": "scenario", "source": source, "name": "judges_in_place", "args": [[3.0]],
                            "kwargs": {}})
    assert reply == {"ok": {"unchanged": False, "has_grad_fn": False, "parameters": 2}}
    assert torch.equal(torch.zeros(1), torch.ones(1)) is True and vars(torch.Tensor)["grad_fn"] is lie
    assert torch.a_new_name == 1  # a module's new names stay (importing a submodule adds some)


def test_a_call_that_switches_gradients_off_for_good_costs_only_its_own_points():
    def evaluate_for_good(x):
        torch.set_grad_enabled(False)  # the mistake: never switched back on
        return float(x)

    student = LocalStudent({"evaluate": evaluate_for_good, "square": lambda t: t * t})
    try:
        assert student.evaluate(2.0) == 2.0
        assert torch.is_grad_enabled()  # undone after the call...
        got = student.run(reports_a_gradient, [1.0, -2.0])  # ...so a test after it still gets gradients
        assert got["grad"].tolist() == [2.0, -4.0]
    finally:
        torch.set_grad_enabled(True)


SECRET = 42


def uses_a_name_of_the_tests_file(student):
    return student.f(SECRET)


def decorated(function):
    return function


@decorated
def decorated_scenario(student):
    return 1


def test_scenarios_that_could_not_run_on_the_students_side_are_refused():
    def enclosed(student):
        return student.f(SECRET + offset)

    offset = 1
    for function, problem in [(uses_a_name_of_the_tests_file, "uses SECRET"),
                              (enclosed, "enclosing function"), (lambda student: 1, "defined with def"),
                              (decorated_scenario, "decorated")]:
        with pytest.raises(scenario.ScenarioError, match=problem):
            scenario.source_of(function)


def test_a_scenario_is_sent_as_source_and_sees_only_its_arguments_torch_np_and_math():
    source = scenario.source_of(reports_a_gradient)
    assert source.startswith("def reports_a_gradient(student, x):")
    function = scenario.load(source, "reports_a_gradient")
    assert set(function.__globals__) == {"__builtins__", "torch", "np", "math", "reports_a_gradient"}
    assert function.__code__.co_filename == "<scenario reports_a_gradient>"


def test_a_scenario_reports_a_missing_name_like_a_call():
    with pytest.raises(StudentError, match="'square' is not defined"):
        LocalStudent({}).run(reports_a_gradient, [1.0])


# ---- rules: "write it yourself" -----------------------------------------------------------------

def exercise_with_rule(monkeypatch, name, *functions):
    monkeypatch.setitem(rules._RULES, name, functions)


def test_forbidden_functions_raise_during_the_call_and_are_restored_after(monkeypatch):
    exercise_with_rule(monkeypatch, "my_softmax", "torch.softmax", "torch.Tensor.softmax",
                       "torch.nn.functional.gelu", *rules.AUTOGRAD)
    originals = (torch.softmax, F.gelu, torch.autograd.grad, torch.autograd.backward)
    notebook = {"torch": torch, "F": F}
    exec("from torch.nn.functional import gelu", notebook)  # a name bound to the function itself
    for body in ["torch.softmax(x, 0)", "x.softmax(0)", "F.softmax(x, 0)", "gelu(x)",
                 "x.requires_grad_().sum().backward()", "torch.func.grad(lambda t: t.sum())(x)",
                 "torch.func.jvp(torch.sin, (x,), (x,))[1]"]:
        exec(f"def my_softmax(x):\n    return {body}", notebook)
        student = LocalStudent({"my_softmax": notebook["my_softmax"]}, scopes=[notebook])
        with student._testing("my_softmax"), pytest.raises(StudentError) as raised:
            student.my_softmax(torch.tensor([1.0, 2.0]))
        assert raised.value.type_name == "WriteItYourselfError", body
        assert raised.value.message.startswith("this exercise asks you to write my_softmax yourself, so ")
    assert (torch.softmax, F.gelu, torch.autograd.grad, torch.autograd.backward) == originals
    assert "softmax" not in vars(torch.Tensor) and notebook["gelu"] is F.gelu  # inherited again, rebound
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.softmax(x, 0)[0].backward()  # the grader's own computations are untouched
    assert x.grad is not None


def test_rules_apply_only_to_their_exercise(monkeypatch):
    exercise_with_rule(monkeypatch, "my_softmax", "torch.softmax")
    student = LocalStudent({"other": lambda x: torch.softmax(x, 0)})
    with student._testing("other"):
        assert student.other(torch.zeros(2)).tolist() == [0.5, 0.5]
    assert rules.rules_for("an_exercise_without_rules") is None


def test_functions_only_newer_libraries_have_are_switched_off_where_they_exist(monkeypatch):
    monkeypatch.delitem(rules._RULES, "optional", raising=False)
    rules.write_it_yourself("optional", "torch.softmax",
                            if_present=("torch.nn.functional.gelu", "torch.nn.functional.not_yet_there"))
    assert rules._RULES["optional"] == ("torch.softmax", "torch.nn.functional.gelu")
    monkeypatch.delitem(rules._RULES, "optional")


def test_a_misspelled_rule_fails_where_it_is_declared():
    with pytest.raises(AttributeError, match="torch.nn.functional.gelus does not exist"):
        rules.write_it_yourself("typo", "torch.nn.functional.gelus")


def test_the_visible_check_enforces_the_same_rule(monkeypatch):
    monkeypatch.delenv("DLBOOK_GRADER", raising=False)
    monkeypatch.setitem(public._REGISTRY, "scenario_gelu", [])
    exercise_with_rule(monkeypatch, "scenario_gelu", "torch.nn.functional.gelu")

    def compares_with_the_library(student):
        """gelu at three points, compared with the library's gelu"""
        x = np.array([-1.0, 0.0, 2.0])
        got = as_array(student.scenario_gelu(torch.tensor(x)), "scenario_gelu(x)", shape=(3,))
        expect_close(got, F.gelu(torch.tensor(x)).numpy(), "scenario_gelu(x)")  # outside the call: allowed

    visible_test("scenario_gelu")(compares_with_the_library)

    def scenario_gelu(x):
        return F.gelu(x)

    printed = printed_by_check(scenario_gelu)
    assert "✘ scenario_gelu: 0 of 1" in printed
    assert ("your code raised WriteItYourselfError: this exercise asks you to write scenario_gelu yourself, "
            "so torch.nn.functional.gelu is switched off") in printed

    def scenario_gelu(x):  # noqa: F811  (the student's second try)
        return x * (1 + torch.erf(x / 2**0.5)) / 2

    assert "✔ scenario_gelu: passed 1/1" in printed_by_check(scenario_gelu)
    assert F.gelu is torch._C._nn.gelu  # restored after the check
