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
| cgroup      | grader  | a control group per sandbox: one CPU and a few tasks for all its processes |
| scratch     | grader  | removing scratch folders whatever a submission left in them (no recursion) |
| worker      | student | the sandboxed process's main program |
| kernel      | student | running cells, calls and scenarios against the student's names (grading and check) |
| scenario    | both    | a test's short procedure, sent as source and run next to the student's objects |
| rules       | both    | "write it yourself": library functions switched off while an exercise is checked |
| hidden      | grader  | the hidden-test API (``@hidden_test``) and running the tests |
| grader      | grader  | grading one submission or a folder of them, in parallel |
| report      | grader  | results.json (Gradescope format), the CSV and the table |
| gradescope  | grader  | the Gradescope autograder zip, and grading inside it |
"""

from .check import check

__all__ = ["check"]
