"""Exercises: feedback for students, hidden-test grading for instructors.

For students, one name: ``from utils.grading import check`` (see ``check.py``).

For instructors, a command (see ``__main__.py`` and appendix/instructors.md):

    python -m utils.grading SUBMISSION.ipynb|FOLDER --tests solutions/ --out grading-output

The modules, one concern each:

| module      | side    | what it does |
|-------------|---------|--------------|
| check       | student | ``check(...)``: runs the visible tests in the notebook and prints feedback |
| public/     | student | the visible tests, one module per chapter |
| expect      | both    | converting results to exact types and comparing them, with clear messages |
| student     | both    | the ``student`` object tests call: functions, classes, objects |
| plain       | both    | plain data <-> JSON + raw bytes (never pickle) |
| channel     | both    | framed messages over a pipe, with deadlines and size limits |
| notebook    | grader  | reading a submission file; which exercise set it belongs to |
| proxy       | grader  | starting the sandboxed student process, feeding it cells, calling into it |
| forkserver  | grader  | a process that imported torch once and forks each student process from itself |
| sandbox     | student | the fences: namespaces, hidden folders, read-only files, limits, no privileges |
| worker      | student | the sandboxed process's main program |
| hidden      | grader  | the hidden-test API (``@hidden_test``) and running the tests |
| grader      | grader  | grading one submission or a folder of them, in parallel |
| report      | grader  | results.json (Gradescope format), the CSV and the table |
"""

from .check import check

__all__ = ["check"]
