"""Reading a submission: is it a notebook, what code does it hold, which exercise set is it?

This runs in the grader, on a file a student made, so it reads the JSON itself with
size and shape checks and no code execution, and it trusts nothing in it: the exercise
set named in the metadata must match the safe ``NN_slug`` pattern and an existing
hidden-tests file.
"""

import json
import re
from dataclasses import dataclass

MAX_NOTEBOOK_BYTES = 20 * 2**20
SET_NAME = re.compile(r"[0-9]{2}_[a-z0-9_]+")  # NN_slug
TESTS_SUFFIX = "_tests.py"


class NotANotebook(ValueError):
    """The submission cannot be graded as a notebook; the message says why, for the student."""


@dataclass
class Submission:
    path: object
    cells: list          # [(cell number counted from 1 over all cells, code source), ...]
    exercise_set: str    # from the notebook's metadata, or None


def read_submission(path):
    """The code cells of the notebook at ``path``, or ``NotANotebook`` saying what is wrong."""
    if path.suffix != ".ipynb":
        raise NotANotebook(f"{path.name} is not a Jupyter notebook (.ipynb)")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotANotebook(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise NotANotebook(f"the file is not valid notebook JSON ({str(error)[:100]})") from None
    if not isinstance(document, dict) or "nbformat" not in document:
        raise NotANotebook("the file is JSON but not a notebook")
    if document["nbformat"] != 4:
        raise NotANotebook(f"notebook format {document['nbformat']!r} is not supported (save it with a "
                           "current Jupyter)")
    if not isinstance(document.get("cells"), list):
        raise NotANotebook("the notebook has no list of cells")
    cells = []
    for number, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict):
            raise NotANotebook(f"cell {number} is malformed")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotANotebook(f"cell {number} has malformed source")
        cells.append((number, source))
    metadata = document.get("metadata")
    book = metadata.get("dlbook") if isinstance(metadata, dict) else None
    name = book.get("exercise_set") if isinstance(book, dict) else None
    return Submission(path, cells, name if isinstance(name, str) else None)


def available_sets(tests_dir):
    """Exercise sets with hidden tests in ``tests_dir``: ``{"01_perceptrons": path, ...}``."""
    found = {}
    for path in sorted(tests_dir.glob(f"*{TESTS_SUFFIX}")):
        name = path.name[: -len(TESTS_SUFFIX)]
        if SET_NAME.fullmatch(name):
            found[name] = path
    return found


def choose_set(path, declared, sets):
    """Which exercise set grades the file at ``path``: the declared one (metadata or
    ``--set``), else an ``NN_slug`` in the file name, else the only set there is."""
    if declared is not None:
        if declared in sets:
            return declared
        raise NotANotebook(f"the notebook says it belongs to exercise set {declared[:60]!r}, which has no "
                           "hidden tests here")
    in_name = [name for name in sets if name in path.name]
    if len(in_name) == 1:
        return in_name[0]
    if len(sets) == 1:
        return next(iter(sets))
    raise NotANotebook("cannot tell which exercise set this is: its metadata lost the set's name "
                       "(the instructor can pass --set NN_slug)")
