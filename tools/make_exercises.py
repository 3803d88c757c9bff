"""Generate the student notebooks exercises/NN_slug.ipynb from solutions/NN_slug.ipynb.

    python tools/make_exercises.py           # regenerate every exercise notebook (`make exercises`)
    python tools/make_exercises.py --check   # exit 1 and list the exercise files that differ (CI)

In a solution notebook, solution code sits between a line ``### BEGIN SOLUTION`` and a
line ``### END SOLUTION`` inside a function or method body. The exercise gets one line
instead, at the markers' indentation: the ``STUB`` below. Everything else is copied,
outputs are dropped, and the notebook's metadata records its exercise set for the grader.
The full authoring format is in solutions/README.md.
"""

import ast
import copy
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Not implemented yet: replace this line with your code.")'


class MarkerError(ValueError):
    """Solution markers that the generator cannot turn into a runnable stub."""


def strip_solutions(source, where):
    """``source`` with every marked solution block replaced by the stub line."""
    lines, stub_lines, indent = [], [], None
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if ("BEGIN SOLUTION" in text or "END SOLUTION" in text) and text not in (BEGIN, END):
            raise MarkerError(f"{where}, line {number}: write the marker exactly as {BEGIN!r} or {END!r}")
        if text == BEGIN:
            if indent is not None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution block")
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + STUB)
            stub_lines.append(len(lines))
        elif text == END:
            if indent is None or not line.startswith(indent) or line[len(indent)] != "#":
                raise MarkerError(f"{where}, line {number}: {END} without a {BEGIN} at the same indentation")
            indent = None
        elif indent is None:
            lines.append(line)
    if indent is not None:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    result = "\n".join(lines)
    if stub_lines:
        _check_stubs_are_in_functions(result, stub_lines, where)
    return result


def _check_stubs_are_in_functions(source, stub_lines, where):
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        message = f"{where}: the exercise version does not compile ({error.msg}, line {error.lineno})"
        raise MarkerError(message) from None
    bodies = [(node.body[0].lineno, node.end_lineno) for node in ast.walk(tree)
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for line in stub_lines:
        if not any(first <= line <= last for first, last in bodies):
            raise MarkerError(f"{where}: the solution block that became line {line} is not inside a function "
                              "body; the exercise notebook must run top to bottom")


def exercise_notebook(solution, set_name):
    """The student notebook generated from the solution notebook ``solution``."""
    exercise = copy.deepcopy(solution)
    markers = 0
    for number, cell in enumerate(exercise.cells, start=1):
        if cell.cell_type != "code":
            continue
        markers += cell.source.count(BEGIN)
        cell.source = strip_solutions(cell.source, f"solutions/{set_name}.ipynb, cell {number}")
        cell.outputs, cell.execution_count = [], None
    if not markers:
        raise MarkerError(f"solutions/{set_name}.ipynb has no {BEGIN} markers")
    exercise.metadata["dlbook"] = {"exercise_set": set_name}
    return exercise


def notebook_text(notebook):
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def generated():
    """``{exercise path: text}`` for every solution notebook."""
    notebooks = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        notebooks[EXERCISES / path.name] = notebook_text(exercise_notebook(solution, path.stem))
    return notebooks


def main(argv):
    if argv not in ([], ["--check"]):
        sys.exit(__doc__)
    try:
        expected = generated()
    except MarkerError as error:
        sys.exit(f"make_exercises: {error}")
    if argv == ["--check"]:
        drifted = [path for path, text in expected.items()
                   if not path.exists() or path.read_text(encoding="utf-8") != text]
        orphans = [path for path in sorted(EXERCISES.glob("*.ipynb")) if path not in expected]
        for path in drifted:
            print(f"differs from what its solution generates: {path.relative_to(ROOT)}")
        for path in orphans:
            print(f"has no solution notebook: {path.relative_to(ROOT)}")
        if drifted or orphans:
            print("run `make exercises` (python tools/make_exercises.py) and commit the result")
            return 1
        print(f"{len(expected)} exercise notebook(s) match their solutions")
        return 0
    EXERCISES.mkdir(exist_ok=True)
    for path, text in expected.items():
        path.write_text(text, encoding="utf-8")
        print("wrote", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
