"""The spine of the book: configuration, notebooks as stored, and the build's execution report."""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import nbformat
import pytest
import yaml

from tools.notebooks import REPO_URL, SETUP_CELL, book_notebooks, first_code_cell

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUDGET_SECONDS = {"chapters": 120, "appendix": 120}  # BOOK.md: chapter <= 120 s on the CI machine


def load_yaml(name):
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def toc_files():
    """Every file named in _toc.yml (root included), without extension."""
    toc = load_yaml("_toc.yml")
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def resolve(docname):
    matches = [ROOT / f"{docname}{ext}" for ext in (".md", ".ipynb") if (ROOT / f"{docname}{ext}").exists()]
    return matches[0] if matches else None


def test_toc_lists_only_pages_that_exist():
    missing = [name for name in toc_files() if resolve(name) is None]
    assert not missing, f"_toc.yml names pages that do not exist: {missing}"


def test_every_chapter_notebook_is_in_the_toc():
    listed = set(toc_files())
    unlisted = [p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "chapters").glob("*.ipynb")]
    assert not [name for name in unlisted if name not in listed]


def test_notebooks_are_stored_without_outputs():
    dirty = [str(p.relative_to(ROOT)) for p in book_notebooks()
             if any(c.get("outputs") or c.get("execution_count")
                    for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")]
    assert not dirty, f"strip outputs with `make sync`: {dirty}"


def test_every_notebook_opens_with_the_canonical_setup_cell():
    notebooks = book_notebooks()
    assert notebooks, "no notebooks found"
    wrong = [str(p.relative_to(ROOT)) for p in notebooks
             if (first_code_cell(nbformat.read(p, as_version=4)) or {}).get("source") != SETUP_CELL]
    assert not wrong, f"run `make sync` to restore the set-up cell in: {wrong}"


def test_repository_url_is_written_once_and_agrees():
    config = load_yaml("_config.yml")
    assert config["repository"]["url"] == REPO_URL
    assert f'REPO_URL = "{REPO_URL}"' in SETUP_CELL
    # Colab badges in the prose must point at this repository and at files that exist.
    org_repo = REPO_URL.removeprefix("https://github.com/")
    link = re.compile(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/([^\s)\"'`]+)")
    for path in book_notebooks() + sorted(ROOT.glob("*.md")) + sorted(ROOT.glob("appendix/*.md")):
        for repo, branch, target in link.findall(path.read_text(encoding="utf-8")):
            assert repo == org_repo, f"{path.name} links Colab to {repo}, not {org_repo}"
            assert branch == config["repository"]["branch"]
            assert (ROOT / target).is_file(), f"{path.name} links Colab to missing {target}"


def test_built_pages_carry_colab_launch_links_to_this_repository(site_dir):
    chapters = [name for name in toc_files() if (ROOT / f"{name}.ipynb").exists()]
    assert chapters, "no notebook pages in the table of contents"
    org_repo = REPO_URL.removeprefix("https://github.com/")
    for name in chapters:
        html = (site_dir / f"{name}.html").read_text(encoding="utf-8")
        expected = f"https://colab.research.google.com/github/{org_repo}/blob/main/{name}.ipynb"
        assert expected in html, f"{name}.html has no Colab launch link {expected}"


def test_build_was_strict_and_offline(site_dir):
    info = json.loads((ROOT / "_build" / "build_info.json").read_text())
    assert info["ok"] and info["warnings_as_errors"]
    if os.environ.get("CI") and os.geteuid() == 0:
        assert info["offline"], "CI runs as root, so the book must have been built offline"


def test_every_notebook_executed_within_budget(site_dir):
    report = json.loads((ROOT / "_build" / "exec_times.json").read_text())
    notebooks = [name for name in toc_files()
                 if name.split("/")[0] in BUDGET_SECONDS and (ROOT / f"{name}.ipynb").exists()]
    print("\nnotebook execution times (s):")
    over = []
    for name in notebooks:
        record = report.get(name)
        assert record is not None, f"{name} has no execution record: was it executed by the build?"
        assert record["succeeded"], f"{name} failed to execute: {record['error']}"
        budget = BUDGET_SECONDS[name.split("/")[0]]
        print(f"  {name:40s} {record['runtime']:7.1f}  (budget {budget})")
        if record["runtime"] > budget:
            over.append(f"{name}: {record['runtime']:.0f} s > {budget} s")
    assert not over, f"over budget: {over}"


def test_exercise_pages_are_shown_as_handed_out(site_dir):
    """Exercise notebooks are rendered unexecuted: a page shows the stubs, not a solution run."""
    report = json.loads((ROOT / "_build" / "exec_times.json").read_text())
    exercises = [name for name in toc_files() if name.startswith("exercises/")]
    assert exercises and not [name for name in exercises if name in report]
    html = (site_dir / f"{exercises[0]}.html").read_text(encoding="utf-8")
    assert "NotImplementedError" in html


def test_a_failing_notebook_fails_the_build_naming_notebook_and_cell(tmp_path):
    """The build's error must say which notebook and which cell broke."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('deliberate failure in cell two')")]
    nbformat.write(nb, tmp_path / "broken.ipynb")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (tmp_path / "_config.yml").write_text(textwrap.dedent("""\
        title: t
        execute: {execute_notebooks: force}
        sphinx: {config: {nb_execution_raise_on_error: true, nb_execution_show_tb: true}}
    """))
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(tmp_path)], capture_output=True, text=True,
                            timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "broken" in output and "deliberate failure in cell two" in output


GLUE_ROLE = re.compile(r"\{glue(?::(?:text|any|md|math|figure))?\}`([^`:]+)")
GLUE_CALL = re.compile(r"""\bglue\(\s*f?(["'])(.+?)\1""")


def glued_key_patterns(source):
    """The keys a code cell stores with glue(); an f-string key becomes a pattern, {...} matching anything."""
    return [re.compile(".+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", key)) + "$")
            for _, key in GLUE_CALL.findall(source)]


def test_every_glued_number_in_the_prose_is_glued_by_its_notebook():
    """A {glue:text} role names a value the notebook's own code stores with glue(); the strict build
    (tests/test_book.py::test_a_missing_glue_key_fails_the_strict_build) catches the rest."""
    problems = []
    for path in book_notebooks():
        nb = nbformat.read(path, as_version=4)
        used = {key for c in nb.cells if c.cell_type == "markdown" for key in GLUE_ROLE.findall(c.source)}
        stored = [pattern for c in nb.cells if c.cell_type == "code"
                  for pattern in glued_key_patterns(c.source)]
        problems += [f"{path.relative_to(ROOT)}: {key}" for key in sorted(used)
                     if not any(pattern.match(key) for pattern in stored)]
    assert not problems, f"prose quotes glue keys that no code cell stores: {problems}"


def test_a_missing_glue_key_fails_the_strict_build(tmp_path):
    """With warnings as errors (as tools/build_book.py builds), prose quoting an unknown key fails."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Glue"),
                nbformat.v4.new_code_cell("from myst_nb import glue\nglue('stored', 0.5, display=False)"),
                nbformat.v4.new_markdown_cell("Stored {glue:text}`stored:.2f`, "
                                              "missing {glue:text}`not_stored:.2f`.")]
    nbformat.write(nb, tmp_path / "glued.ipynb")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: glued\n")
    (tmp_path / "_config.yml").write_text("title: t\nexecute: {execute_notebooks: force}\n")
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(tmp_path), "-W", "--keep-going"],
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "not_stored" in output


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_docs_name_the_commands_ci_runs(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert "make test" in text and "make book" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
