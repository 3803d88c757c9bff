"""Writing results: Gradescope-style results.json, a CSV for a folder, a table for the terminal.

results.json follows Gradescope's autograder format:

    {"score": 15.0, "max_score": 17.0, "execution_time": 8.4, "output": "notes on the notebook",
     "tests": [{"name": "...", "score": 2.0, "max_score": 2.0, "output": "Passed."}, ...],
     "extra_data": {"exercise_set": "01_perceptrons", "exercises": {"perceptron_predict": [2.0, 2.0]}}}

Everything here may hold text a submission chose (its file name, its exception messages), so
every string passes through ``clean`` first: no terminal escape sequence, carriage return or
other control character from a submission reaches the terminal, the CSV or the JSON, and no
CSV cell starts like a spreadsheet formula.
"""

import csv
import json
import re

# Control characters (C0 but tab and newline, DEL, C1), and the invisible format characters that
# reorder or hide text on screen (zero-width, bidirectional overrides and isolates, BOM).
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e"
                               "\u2060-\u2069\ufeff]")
FORMULA_STARTS = ("=", "+", "-", "@")


def clean(text):
    """``text`` with every control or invisible formatting character replaced by ``?``."""
    return UNSAFE_CHARACTERS.sub("?", str(text))


def _csv_cell(text):
    text = clean(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def results_json(graded):
    result = {"score": float(graded.score)}
    if graded.max_score is not None:
        result["max_score"] = float(graded.max_score)
    result["execution_time"] = round(graded.seconds, 2)
    result["output"] = clean("\n".join(graded.notes))
    result["tests"] = [{"name": clean(t.name), "score": float(t.score), "max_score": float(t.max_score),
                        "output": clean(t.output)} for t in graded.tests]
    per_exercise = {name: [float(score), float(most)] for name, (score, most) in graded.by_exercise().items()}
    result["extra_data"] = {"submission": clean(graded.path.name), "exercise_set": graded.exercise_set,
                            "exercises": per_exercise}
    if graded.set_warning:  # the file's own doubt (the CSV also says when its folder mixes sets)
        result["extra_data"]["set_warning"] = clean(graded.set_warning)
    return result


def write_results(graded, folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(results_json(graded), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_csv(all_graded, path):
    """One row per submission: total, then one column per exercise (in test order)."""
    exercises = list(dict.fromkeys(e for g in all_graded for e in g.by_exercise()))
    temporary = path.with_name(f".{path.name}.partial")  # replaced at once: never half a file
    with open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "exercise_set", "set_warning", "score", "max_score", *exercises,
                         "seconds", "notes"])
        for graded in all_graded:
            per_exercise = graded.by_exercise()
            writer.writerow([_csv_cell(graded.path.name), graded.exercise_set or "",
                             _csv_cell(graded.warning or ""), f"{graded.score:g}",
                             "" if graded.max_score is None else f"{graded.max_score:g}",
                             *(f"{per_exercise[e][0]:g}" if e in per_exercise else "" for e in exercises),
                             f"{graded.seconds:.1f}", _csv_cell(" | ".join(graded.notes))])
    temporary.replace(path)


def _score_text(graded):
    return "not graded" if graded.max_score is None else f"{graded.score:g}/{graded.max_score:g}"


def submission_table(graded):
    """Every test of one submission, then its notes."""
    name_width = max([len(t.name) for t in graded.tests] + [4])
    set_name = graded.exercise_set or "no exercise set"
    lines = [f"{clean(graded.path.name)}  [{set_name}]  {_score_text(graded)}"]
    if graded.warning:
        lines.append(f"  WARNING: {clean(graded.warning)}")
    for test in graded.tests:
        first_line = clean(test.output).splitlines()[0] if test.output else ""
        score = f"{test.score:>4g}/{test.max_score:<4g}"
        lines.append(f"  {score} {clean(test.name):<{name_width}}  {first_line[:100]}")
    lines += [f"  note: {clean(note)}" for note in graded.notes]
    return "\n".join(lines)


def folder_table(all_graded):
    """One line per submission."""
    width = max(len(clean(g.path.name)) for g in all_graded)
    lines = [f"{'submission':<{width}}  {'score':>10}  {'time':>6}  notes"]
    for graded in all_graded:
        note = clean(graded.notes[0]).replace("\n", " ")[:80] if graded.notes else ""
        more = f" (+{len(graded.notes) - 1} more)" if len(graded.notes) > 1 else ""
        if graded.warning:  # in full: it names the set to check
            note = f"WARNING: {clean(graded.warning)}"
            more = f" (+{len(graded.notes)} notes)" if graded.notes else ""
        name = clean(graded.path.name)
        lines.append(f"{name:<{width}}  {_score_text(graded):>10}  {graded.seconds:5.1f}s  {note}{more}")
    sets = sorted({g.exercise_set for g in all_graded if g.exercise_set})
    if len(sets) > 1:
        lines.append(f"WARNING: this folder mixes exercise sets: {', '.join(sets)} "
                     "(see the set_warning column of grades.csv)")
    return "\n".join(lines)
