"""Writing results: Gradescope-style results.json, a CSV for a folder, a table for the terminal.

results.json follows Gradescope's autograder format:

    {"score": 15.0, "max_score": 17.0, "execution_time": 8.4, "output": "notes on the notebook",
     "tests": [{"name": "...", "score": 2.0, "max_score": 2.0, "output": "Passed."}, ...],
     "extra_data": {"exercise_set": "01_perceptrons", "exercises": {"perceptron_predict": [2.0, 2.0]}}}
"""

import csv
import json


def results_json(graded):
    result = {"score": float(graded.score)}
    if graded.max_score is not None:
        result["max_score"] = float(graded.max_score)
    result["execution_time"] = round(graded.seconds, 2)
    result["output"] = "\n".join(graded.notes)
    result["tests"] = [{"name": t.name, "score": float(t.score), "max_score": float(t.max_score),
                        "output": t.output} for t in graded.tests]
    per_exercise = {name: [float(score), float(most)] for name, (score, most) in graded.by_exercise().items()}
    result["extra_data"] = {"exercise_set": graded.exercise_set, "exercises": per_exercise}
    return result


def write_results(graded, folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(results_json(graded), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_csv(all_graded, path):
    """One row per submission: total, then one column per exercise (in test order)."""
    exercises = list(dict.fromkeys(e for g in all_graded for e in g.by_exercise()))
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "exercise_set", "score", "max_score", *exercises, "seconds", "notes"])
        for graded in all_graded:
            per_exercise = graded.by_exercise()
            writer.writerow([graded.path.name, graded.exercise_set or "", f"{graded.score:g}",
                             "" if graded.max_score is None else f"{graded.max_score:g}",
                             *(f"{per_exercise[e][0]:g}" if e in per_exercise else "" for e in exercises),
                             f"{graded.seconds:.1f}", " | ".join(graded.notes)])


def _score_text(graded):
    return "not graded" if graded.max_score is None else f"{graded.score:g}/{graded.max_score:g}"


def submission_table(graded):
    """Every test of one submission, then its notes."""
    name_width = max([len(t.name) for t in graded.tests] + [4])
    lines = [f"{graded.path.name}  [{graded.exercise_set or 'no exercise set'}]  {_score_text(graded)}"]
    for test in graded.tests:
        first_line = test.output.splitlines()[0] if test.output else ""
        lines.append(f"  {test.score:>4g}/{test.max_score:<4g} {test.name:<{name_width}}  {first_line[:100]}")
    lines += [f"  note: {note}" for note in graded.notes]
    return "\n".join(lines)


def folder_table(all_graded):
    """One line per submission."""
    width = max(len(g.path.name) for g in all_graded)
    lines = [f"{'submission':<{width}}  {'score':>10}  {'time':>6}  notes"]
    for graded in all_graded:
        note = graded.notes[0] if graded.notes else ""
        more = f" (+{len(graded.notes) - 1} more)" if len(graded.notes) > 1 else ""
        lines.append(f"{graded.path.name:<{width}}  {_score_text(graded):>10}  {graded.seconds:5.1f}s  "
                     f"{note[:80]}{more}")
    return "\n".join(lines)
