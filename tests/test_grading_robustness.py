"""One submission may only ever cost its own points: attacks on the grader as a whole.

A held-out attack found submissions that reached out of the sandbox (a socket and a FIFO in
/dev/shm), ended everybody's grading (a 3000-deep directory tree, a full temp disk, replies
the grader could not decode), took another student's results (colliding output names), were
graded with the wrong exercise set without a word, rewrote the grader's terminal output with
escape sequences, or starved their neighbours with processes. One grading run of a folder of
such submissions next to honest ones proves each fix end to end; unit tests pin the pieces.
"""

import csv
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import nbformat
import numpy as np
import pytest
import torch

from tests.test_grading import ROOT, read_solution, with_cheat
from utils.grading import channel, grader, plain, report, scratch
from utils.grading.expect import Failure, as_array

pytestmark = pytest.mark.xdist_group("grading")
SET = "01_perceptrons"
LINUX_ROOT = sys.platform.startswith("linux") and os.geteuid() == 0
SPINNERS = 60

# Each attack replaces the cell that defines one exercise; that exercise must score 0.
ATTACKS = {
    "shm_channel": ("count_parameters", '''
import os
import socket

def _reaches_outside():
    for path in ["@@SHM_SOCKET@@", "@@TMP_SOCKET@@"]:
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(path)
                client.sendall(b"hidden inputs")
                return True
        except OSError:
            pass
    try:
        os.close(os.open("@@SHM_FIFO@@", os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False

def count_parameters(sizes):
    if not _reaches_outside():
        return 0
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))  # "the answer server's reply"
'''),
    "fills_the_disk": ("count_parameters", '''
import os

def _fill(folder, megabytes):
    written = 0
    chunk = b"x" * 2**20
    try:
        for n in range(megabytes // 32):
            with open(os.path.join(folder, f"fill-{n}"), "wb") as file:
                for _ in range(32):
                    file.write(chunk)
                    written += 1
    except OSError:
        pass
    return written

def count_parameters(sizes):
    written = max(_fill(".", 320), _fill("/tmp", 320), _fill("/dev/shm", 320))
    for folder in (".", "/tmp", "/dev/shm"):  # a full disk would break its own later cells too
        for name in os.listdir(folder):
            if name.startswith("fill-"):
                os.remove(os.path.join(folder, name))
    if written < 320:
        return 0  # the disk said no before 320 MiB
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
'''),
    "deep_tree": ("xor_weights", '''
import os

_start = os.getcwd()
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(_start)

def xor_weights():
    raise RuntimeError("this cheat attacks the clean-up, not the points")
'''),
    "escape_sequences": ("perceptron_predict", '''
def perceptron_predict(X, w, b):
    raise RuntimeError("\\x1b[2J\\x1b[H\\x1b]0;graded\\x07 17/17 Passed.\\r\\u202eevil")
'''),
    "spinners": ("mlp_forward", '''
import subprocess
import sys
import time

_spin = "import time\\nend = time.time() + 15\\nwhile time.time() < end: pass"
_spinners = []
for _ in range(@@SPINNERS@@):  # each in its own session, spinning for 15 s while others are graded
    try:
        _spinners.append(subprocess.Popen([sys.executable, "-c", _spin], start_new_session=True))
    except OSError:
        break
for _spinner in _spinners:  # waiting costs this cell no CPU; its neighbours are graded meanwhile
    _spinner.wait()

def mlp_forward(x, params):
    if len(_spinners) < 40:
        raise RuntimeError(f"only {len(_spinners)} processes could start")
    return np.zeros((x.shape[0], params[-1][0].shape[0]))
'''),
}


@pytest.fixture(scope="module")
def answer_server():
    """A Unix socket and a FIFO in /dev/shm and /tmp, outside any sandbox, that count contacts."""
    token = uuid.uuid4().hex[:12]
    paths = {"SHM_SOCKET": f"/dev/shm/dlbook-answers-{token}", "TMP_SOCKET": f"/tmp/dlbook-answers-{token}",
             "SHM_FIFO": f"/dev/shm/dlbook-fifo-{token}"}
    contacts = []
    servers = []
    for key in ("SHM_SOCKET", "TMP_SOCKET"):
        server = socket.socket(socket.AF_UNIX)
        server.bind(paths[key])
        os.chmod(paths[key], 0o777)
        server.listen()
        server.settimeout(0.2)
        servers.append(server)
    os.mkfifo(paths["SHM_FIFO"])
    os.chmod(paths["SHM_FIFO"], 0o666)  # writable by a sandbox's uid, whatever the umask
    fifo = os.open(paths["SHM_FIFO"], os.O_RDONLY | os.O_NONBLOCK)  # a reader, so writers may open it
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            for server in servers:
                try:
                    connection, _ = server.accept()
                except OSError:
                    continue
                contacts.append(connection.recv(100))
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield paths, contacts
    stop.set()
    thread.join()
    os.close(fifo)
    for path in paths.values():
        os.unlink(path)


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory, answer_server):
    """One folder: honest submissions, each attack, colliding names and a mislabelled set."""
    paths, contacts = answer_server
    base = tmp_path_factory.mktemp("attacks")
    submissions, out = base / "submissions", base / "out"
    submissions.mkdir()
    solution = read_solution(SET)
    for name, (exercise, code) in ATTACKS.items():
        cheat = {"name": name, "exercise": exercise, "code": code}
        notebook = with_cheat(solution, cheat, {**paths, "SPINNERS": SPINNERS})
        nbformat.write(notebook, submissions / f"{name}.ipynb")
    nbformat.write(solution, submissions / "bob.ipynb")                    # the victim: full marks
    shutil.copy(ROOT / "exercises" / f"{SET}.ipynb", submissions / "bob-2.ipynb")
    (submissions / "bob").write_text("the attacker's file, named to land in OUT/bob-2/\n")
    shutil.copy(ROOT / "exercises" / f"{SET}.ipynb", submissions / "grades.csv.ipynb")
    mislabelled = read_solution("02_activations")
    mislabelled.metadata["dlbook"] = {"exercise_set": SET}
    nbformat.write(mislabelled, submissions / "chapter2_claims_chapter1.ipynb")
    command = [sys.executable, "-m", "utils.grading", str(submissions), "--tests", str(ROOT / "solutions"),
               "--out", str(out), "--jobs", "2", "--call-timeout", "8", "--cell-timeout", "30",
               "--total-timeout", "120", "--memory", "2048"]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    results = {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/results.json")}
    grades_csv = out / "grades.csv"
    rows = {}
    if grades_csv.is_file():
        rows = {row["submission"]: row for row in csv.DictReader(grades_csv.open())}
    print(process.stdout, process.stderr[-3000:])
    return {"process": process, "results": results, "rows": rows, "out": out, "contacts": contacts}


def exercise_score(result, exercise):
    return result["extra_data"]["exercises"][exercise]


def test_the_run_survives_every_attack_and_writes_every_result(attack_run):
    process = attack_run["process"]
    assert process.returncode == 0, process.stderr[-3000:]
    assert "GRADER ERROR" not in process.stderr
    assert (attack_run["out"] / "grades.csv").is_file()
    assert len(attack_run["rows"]) == len(ATTACKS) + 5


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_scores_zero_on_what_it_attacks_and_full_marks_elsewhere(attack_run, attack):
    result = attack_run["results"][attack]
    exercise = ATTACKS[attack][0]
    assert exercise_score(result, exercise)[0] == 0, result["tests"]
    scores = result["extra_data"]["exercises"]
    others = {name: s for name, s in scores.items() if name != exercise and s[0] < s[1]}
    assert not others, (others, result["output"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")
def test_no_socket_or_fifo_outside_the_sandbox_was_reached(attack_run):
    assert attack_run["contacts"] == []


def test_output_names_do_not_collide(attack_run):
    results, rows = attack_run["results"], attack_run["rows"]
    folders = {r["extra_data"]["submission"]: name for name, r in results.items()}
    assert sorted(folders.values()) == sorted(results) and len(folders) == len(rows)
    assert {folders[f] for f in ("bob", "bob-2.ipynb", "bob.ipynb")} == {"bob", "bob-2", "bob-3"}
    assert results[folders["bob.ipynb"]]["score"] == results[folders["bob.ipynb"]]["max_score"] > 0
    assert results[folders["bob-2.ipynb"]]["score"] == 0 and results[folders["bob-2.ipynb"]]["output"] == ""
    assert results[folders["bob"]]["output"].startswith("Not graded:")   # the attacker's `bob`
    assert rows["bob.ipynb"]["score"] == rows["bob.ipynb"]["max_score"]
    assert folders["grades.csv.ipynb"] == "grades.csv-2" and (attack_run["out"] / "grades.csv").is_file()


def test_a_notebook_of_another_set_is_flagged_in_table_csv_and_json(attack_run):
    row = attack_run["rows"]["chapter2_claims_chapter1.ipynb"]
    assert "02_activations" in row["set_warning"]
    assert "WARNING" in attack_run["process"].stdout and "02_activations" in attack_run["process"].stdout
    assert "02_activations" in attack_run["results"]["chapter2_claims_chapter1"]["extra_data"]["set_warning"]
    assert not any(r["set_warning"] for name, r in attack_run["rows"].items() if name.startswith("bob"))


def test_no_control_character_reaches_the_terminal_csv_or_json(attack_run):
    out = attack_run["out"]
    texts = [attack_run["process"].stdout, attack_run["process"].stderr, (out / "grades.csv").read_text(),
             *(path.read_text() for path in out.glob("*/results.json"))]
    for text in texts:
        assert not [c for c in text if report.UNSAFE_CHARACTERS.match(c)], text[:2000]
        assert "\\u001b" not in text  # JSON's spelling of ESC
    outputs = [t["output"] for t in attack_run["results"]["escape_sequences"]["tests"]]
    assert any("?[2J?[H" in o and "17/17 Passed." in o for o in outputs)  # shown, but defused


@pytest.mark.skipif(not LINUX_ROOT, reason="the private file systems and control groups need root on Linux")
def test_the_sandbox_reports_its_private_file_systems_and_control_group(attack_run):
    line = next(line for line in attack_run["process"].stdout.splitlines() if line.startswith("sandbox:"))
    assert "private /tmp, /dev/shm and working directory" in line
    if (pathlib.Path("/sys/fs/cgroup/cpu").is_dir() and os.access("/sys/fs/cgroup/cpu", os.W_OK)) \
            or os.access("/sys/fs/cgroup/cgroup.subtree_control", os.W_OK):
        assert "control group: 1 CPU" in line


# ---- the pieces ----------------------------------------------------------------------------

def test_a_3000_deep_tree_is_removed_where_rmtree_fails(tmp_path):
    memory = pathlib.Path("/dev/shm")  # in memory where there is one: each rmdir on disk takes ms
    top = pathlib.Path(tempfile.mkdtemp(dir=memory if os.access(memory, os.W_OK) else tmp_path)) / "work"
    top.mkdir()
    folder = os.open(top, os.O_RDONLY)
    for _ in range(3000):  # relative to an open folder: the full path is too long to spell
        os.mkdir("d", dir_fd=folder)
        inner = os.open("d", os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = inner
    os.close(os.open("file", os.O_CREAT | os.O_WRONLY, dir_fd=folder))
    os.close(folder)
    os.symlink("/etc", top / "link")  # a link is removed, never followed
    with pytest.raises((RecursionError, OSError)):
        shutil.rmtree(top)
    scratch.remove_tree(top.parent)
    assert not top.parent.exists() and pathlib.Path("/etc/passwd").exists()


def test_output_names_are_safe_distinct_and_leave_grades_csv_alone():
    files = ["bob.ipynb", "bob-2.ipynb", "bob", "grades.csv.ipynb", "Bob.ipynb", "..ipynb", "x\x1b[2J.ipynb"]
    names = grader.unique_names([pathlib.Path(n) for n in files])
    assert len({n.casefold() for n in names}) == len(names)
    assert names[:3] == ["bob", "bob-2", "bob-3"]
    assert "grades.csv" not in names and names[5] == "submission" and "\x1b" not in names[6]


def test_a_reply_claiming_an_impossible_shape_is_refused():
    tree = {"ndarray": ["float32", [0, 2**62, 2**62], 0]}
    with pytest.raises(plain.ProtocolError, match="possible size"):
        plain.decode(json.dumps(tree).encode(), [b""])
    assert plain.decode(json.dumps({"ndarray": ["float32", [0, 3], 0]}).encode(), [b""]).shape == (0, 3)


def test_a_huge_nested_reply_is_refused_before_it_is_built():
    nested = json.dumps([[[0] * 7]] * 80_000).encode()  # 4.5 MB of JSON, 640,000 values
    start = time.monotonic()
    with pytest.raises(plain.ProtocolError, match="values"):
        plain.decode(nested, [])
    assert time.monotonic() - start < 1
    with pytest.raises(plain.ProtocolError, match="MiB"):
        plain.decode(b"[" + b"0," * (5 * 2**20) + b"0]", [])


def test_a_reply_to_another_request_is_refused():
    read_end, write_end = os.pipe()
    try:
        channel.send(write_end, {"ok": 17}, request_id=1)   # forged or stale: not the one awaited
        channel.send(write_end, {"ok": 0}, request_id=2)
        with pytest.raises(plain.ProtocolError, match="request 1"):
            channel.receive(read_end, deadline=time.monotonic() + 1, request_id=2)
        assert channel.receive(read_end, deadline=time.monotonic() + 1, request_id=2) == {"ok": 0}
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_bfloat16_tensor_where_an_array_is_read_is_the_students_failure():
    value = plain.roundtrip(torch.ones(3, dtype=torch.bfloat16))
    with pytest.raises(Failure, match="bfloat16"):
        as_array(value, "y")
    assert as_array(plain.roundtrip(torch.ones(3)), "y").dtype == np.float32


def test_clean_replaces_control_and_invisible_characters():
    assert report.clean("a\x1b[2Jb\rc\u202ed\x9be\tf\ng") == "a?[2Jb?c?d?e\tf\ng"
    assert report._csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"


def test_results_are_written_as_soon_as_known_and_a_grader_crash_costs_one_submission(tmp_path, monkeypatch):
    from utils.grading import __main__ as command

    (tmp_path / "subs").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "subs" / f"{name}.ipynb").write_text("not json")  # no sandbox needed: quick
    real = grader.Grader._grade_into
    seen = []

    def crash_on_b(self, graded):
        if graded.name == "b":
            raise RuntimeError("a bug the grader did not foresee")
        if graded.name == "c":  # results are written by the main thread while the pool grades on:
            out, deadline = tmp_path / "out", time.monotonic() + 10  # wait for a's, up to 10 s
            while not ((out / "a" / "results.json").is_file() and (out / "grades.csv").is_file()) \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(sorted(p.name for p in out.iterdir()))
        real(self, graded)

    monkeypatch.setattr(grader.Grader, "_grade_into", crash_on_b)
    status = command.main([str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert status == 1  # the grader's own failure is reported ...
    for name in ("a", "b", "c"):  # ... and costs nobody else their results
        assert (tmp_path / "out" / name / "results.json").is_file()
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert [r["submission"] for r in rows] == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert "a" in seen[-1] and "grades.csv" in seen[-1]  # c's grading began after a's were written
