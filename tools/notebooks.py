"""Maintainer commands for the book's notebooks.

    python -m tools.notebooks sync               # every notebook: canonical set-up cell first, no outputs
    python -m tools.notebooks sync PATH.ipynb...  # only these notebooks

Every notebook opens with the same set-up cell (BOOK.md, "Notebook anatomy"). It is
kept here, once; ``sync`` rewrites the notebooks from it and the tests check it
(tests/test_setup_cell.py runs it as Colab would). On Colab it clones the repository
(``$DLBOOK_REPO_URL`` overrides the URL; ``$DLBOOK_REFRESH`` updates an existing copy).
"""

import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "solutions", "exercises", "appendix")
REPO_URL = "https://github.com/interactive-dl/dl-book"  # also in _config.yml (tests check)

SETUP_CELL = f'''# Set-up: the same cell opens every notebook of the book.
import os, subprocess, sys
REPO_URL = "{REPO_URL}"
REPO_URL = os.environ.get("DLBOOK_REPO_URL", REPO_URL)  # a fork, or a local copy
if "google.colab" in sys.modules:  # on Colab, fetch the book's code next to the notebook
    if not os.path.isfile("dl-book/utils/env.py"):
        subprocess.run(["git", "clone", "-q", "--depth=1", REPO_URL, "dl-book"], check=True)
    elif os.environ.get("DLBOOK_REFRESH"):  # set it to update an older copy
        subprocess.run(["git", "-C", "dl-book", "pull", "-q", "--ff-only"], check=True)
ROOT = next((d for d in (".", "..", "dl-book") if os.path.isfile(os.path.join(d, "utils", "env.py"))), None)
if ROOT is None:
    raise FileNotFoundError(f"The book's utils/env.py is not in {{os.getcwd()}}, its parent or ./dl-book: "
                            f"open this notebook inside the book's folder (git clone {{REPO_URL}}).")
sys.path.insert(0, os.path.abspath(ROOT))
from utils.env import setup
DEVICE, SCALE = setup(seed=0)'''


def book_notebooks():
    """Every notebook the book ships, in a stable order."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def strip_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def sync(path):
    """Make ``path`` start with the canonical set-up cell and carry no outputs."""
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    if cell is None or not cell.source.startswith("# Set-up"):
        nb.cells.insert(next((i for i, c in enumerate(nb.cells) if c.cell_type != "markdown"), len(nb.cells)),
                        nbformat.v4.new_code_cell(SETUP_CELL))
    else:
        cell.source = SETUP_CELL
    strip_outputs(nb)
    nbformat.write(nb, path)


def main(argv):
    if argv[:1] != ["sync"]:
        sys.exit(__doc__)
    paths = [pathlib.Path(arg).resolve() for arg in argv[1:]] or book_notebooks()
    for path in paths:
        sync(path)
        print("synced", path.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
