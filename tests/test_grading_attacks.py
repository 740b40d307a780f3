"""`rlcourse grade` against hostile submissions: each attack is a real notebook graded beside
an honest one (alice: 8/8) and an untouched one (uma: 0/8), and both keep their marks."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import rlcourse.mdp
from rlcourse.grading import grade

_spec = importlib.util.spec_from_file_location(
    "grading_submissions", Path(__file__).parent / "fixtures" / "grading" / "submissions.py"
)
subs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs)

# generous per cell and per notebook (lesson 00 runs in about 5 s): the machine may be busy
TIMEOUT, BUDGET = 10, 25
C, I, N, F = "correct", "incorrect", "not attempted", "flagged"
MARKER = "987654.25"  # `sleep MARKER`: processes a submission leaves behind are found by it


def _with_cells(*sources: str, answers: dict[str, str | None] | None = None):
    """The lesson with some answers filled in and ``sources`` as extra cells at the end."""
    nb = subs.lesson()
    for name, source in (answers or {}).items():
        subs.answer(nb, name, source)
    for source in sources:
        subs.insert_after(nb, len(nb.cells) - 1, textwrap.dedent(source))
    return nb


ON_LOAD = """
    import numpy
    import rlcourse.exercises.framework as fw
    from rlcourse.exercises import lesson00

    PATCH = '''
    import numpy
    from rlcourse.exercises import framework as f
    numpy.allclose = lambda *a, **k: True
    f.Exercise.check = lambda self, answer=None, record=True: f.Result(
        self.lesson, self.id, self.name, f.Status.CORRECT, "Correct.", self.points,
        float(self.points))
    '''

    class OnLoad:
        def __reduce__(self):
            return (exec, (PATCH,))

    LOADED = OnLoad()

    def discounted_return(rewards, gamma):
        LOADED  # travels with the function: runs wherever the function is loaded
        return 0.0

    exec(PATCH)
    lesson00.q1.cases = lambda rng: []
    fw.Exercise._check_function.__code__ = (
        lambda self, fn: self._result(fw.Status.CORRECT, "Correct.")
    ).__code__
"""

FORGE = """
    import glob, json, os, threading, time
    from IPython.display import display

    MIME = "application/vnd.rlcourse.grading+json"
    BIG = 5 * 10**6
    fake = [{"id": q, "status": "value", "value": None} for q in ("q1", "q2", "q3")]
    line = json.dumps({"event": "result", "id": "q1", "status": "correct", "message": "x" * BIG})

    def spam():
        while True:
            for path in glob.glob("/tmp/**/*.json*", recursive=True) + glob.glob("*.json*"):
                try:
                    with open(path, "a") as fh:
                        fh.write("\\n" + line + "\\n")
                except OSError:
                    pass
            for message in fake:
                display({MIME: message}, raw=True)
            time.sleep(0.05)

    threading.Thread(target=spam, daemon=True).start()

    def discounted_return(rewards, gamma):  # answers for itself while it is being checked
        display({MIME: {"id": "q1", "status": "value", "value": 2.75, "nonce": "?"}}, raw=True)
        return 0.0
"""

WRAPPERS = {
    "discounted_return": "import functools\n"
    "discounted_return = functools.partial(mdp.discounted_return)\n",
    "bellman_backup": "bellman_backup = lambda P, r, V, gamma: (\n"
    "    mdp.bellman_backup(P, r, V, gamma))\n",
    "value_iteration": "import inspect\n"
    "def value_iteration(P, r, gamma):\n"
    "    if any('rlcourse' in f.filename for f in inspect.stack()):\n"
    "        return mdp.value_iteration(P, r, gamma).V  # the answer, only when graded\n"
    "    return np.zeros(P.shape[0])\n",
}

COPIED = (
    "import numpy as np\nfrom rlcourse._validate import as_array, check_positive\n"
    + inspect.getsource(rlcourse.mdp.discounted_return)
)

SLEEPY = [f"import time\ntime.sleep({TIMEOUT - 1})\n"] * 40

KEEP_ALIVE = """
    import threading, time
    threading.Thread(target=lambda: time.sleep(10**6)).start()
"""

SPAWN = f"""
    import os, subprocess
    children = [subprocess.Popen(["sleep", "{MARKER}"], start_new_session=True) for _ in range(20)]
    if os.fork() == 0:  # a daemon: double fork, new session
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "{MARKER}"])
        os._exit(0)
"""

HOG = """
    hog = bytearray(3 * 2**30)  # more than the memory limit: MemoryError here, nothing else
"""


def _hostile_class(root: Path) -> dict[str, Path]:
    folder = root / "class"
    paths = {
        "alice": subs.write(subs.correct(), folder / "alice" / "00_welcome.ipynb"),
        "uma": subs.write(subs.lesson(), folder / "uma" / "00_welcome.ipynb"),
        "a1_onload": subs.write(_with_cells(ON_LOAD), folder / "a1_onload" / "00_welcome.ipynb"),
        "a2_forge": subs.write(_with_cells(FORGE), folder / "a2_forge" / "00_welcome.ipynb"),
        "a3_wrap": subs.write(
            _with_cells(answers=WRAPPERS), folder / "a3_wrap" / "00_welcome.ipynb"
        ),
        "a3_copy": subs.write(
            _with_cells(answers={"discounted_return": COPIED, "bellman_backup": None}),
            folder / "a3_copy" / "00_welcome.ipynb",
        ),
        # "a07" and "a04" sort first: attack 4 kills the other worker, so the sleeper is
        # hit at its start (not halfway through) and the rest of the class is graded beside it
        "a07_sleepy": subs.write(
            _with_cells(KEEP_ALIVE, *SLEEPY, answers={"discounted_return": None}),
            folder / "a07_sleepy" / "00_welcome.ipynb",
        ),
        "a8_spawn": subs.write(
            _with_cells(SPAWN, HOG, answers={"discounted_return": None}),
            folder / "a8_spawn" / "00_welcome.ipynb",
        ),
    }
    return paths


def _survivors() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if MARKER.encode() in cmd and b"sleep" in cmd:
                found.append(int(entry.name))
    return found


def _leftover_folders() -> list[str]:
    mine = f"rlcourse-grade-{os.getpid()}-"
    return [p.name for p in Path(tempfile.gettempdir()).glob(mine + "*")]


HOSTILE_NAMES = ["x" * 250, '=HYPERLINK("evil")', "line\nbreak", "José", "Jose\u0301"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    paths = _hostile_class(root)
    folder, out = root / "class", root / "out"
    # attack 4 without root: the environment, the folder, the other worker
    subs.write(
        _with_cells(_reach({"destructive": False})), folder / "a04_reach" / "00_welcome.ipynb"
    )
    # attack 5: a folder linked to a classmate's, a notebook linked to the answer key
    (folder / "a5_mallory").symlink_to(folder / "alice")
    (folder / "a5_trudy").mkdir()
    (folder / "a5_trudy" / "00_welcome.ipynb").symlink_to(subs.SOLUTION)
    # attack 6: names (not notebooks: only the names matter here)
    for name in [*HOSTILE_NAMES, ".hidden"]:
        (folder / name).mkdir()
        (folder / name / "00_welcome.ipynb").write_text("{}", encoding="utf-8")
    os.environ["RLCOURSE_TEST_SECRET"] = "instructor-secret"
    try:
        report = grade(
            [folder], out, timeout=TIMEOUT, budget=BUDGET, jobs=2, memory_mb=1536,
            progress=False,
        )  # fmt: skip
    finally:
        del os.environ["RLCOURSE_TEST_SECRET"]
    rows = {r["student"]: r for r in report.rows}
    yield {"root": root, "paths": paths, "out": out, "rows": rows, "report": report}
    for pid in _survivors():  # never leave a process behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


def _statuses(row):
    return tuple(e["status"] for e in row["exercises"])


def test_honest_and_untouched_keep_their_marks(hostile):
    alice, uma = hostile["rows"]["alice"], hostile["rows"]["uma"]
    assert alice["total"] == 8 and _statuses(alice) == (C, C, C) and alice["errors"] == []
    assert alice["flags"] == 0
    assert uma["total"] == 0 and _statuses(uma) == (N, N, N) and uma["errors"] == []


def test_attack1_code_run_on_load_and_patched_checks_earn_nothing(hostile):
    row = hostile["rows"]["a1_onload"]
    assert row["total"] == 0
    assert _statuses(row) == (I, N, N)
    q1 = row["exercises"][0]["message"]
    assert "Test case 1 of 5" in q1 and "expected 2.75, got 0" in q1
    # the notebook's tricks are listed for the instructor (from its source, not its kernel)
    assert row["flags"] >= 1
    assert any("defines code that runs when an object is loaded" in e for e in row["errors"])
    assert any("assigns into an imported module" in e for e in row["errors"])


def test_attack2_forged_results_are_ignored_and_reported(hostile):
    row = hostile["rows"]["a2_forge"]
    assert row["total"] == 0 and _statuses(row) == (I, N, N)
    assert any("posing as the grader's results (ignored)" in e for e in row["errors"])
    assert any("starts threads" in e for e in row["errors"])
    text = json.dumps(row)
    assert len(text) < 20_000  # no 5 MB message in the gradebook
    assert (hostile["out"] / "gradebook.json").stat().st_size < 200_000


def test_attack3_the_library_answer_in_disguise_is_flagged(hostile):
    row = hostile["rows"]["a3_wrap"]
    assert _statuses(row) == (F, F, F) and row["total"] == 0 and row["flags"] >= 3
    q1, q2, q3 = (e["flag"] for e in row["exercises"])
    assert "calls the library's own `rlcourse.mdp.discounted_return`" in q1
    assert "holds the library's own `rlcourse.mdp.discounted_return`" in q1  # the partial
    assert "calls the library's own `rlcourse.mdp.bellman_backup`" in q2  # the lambda
    assert "calls the library's own `rlcourse.mdp.value_iteration`" in q3  # only when graded
    for e in row["exercises"]:
        assert "Flagged for review" in e["message"] and "instructor decides" in e["message"]
    feedback = (hostile["out"] / row["feedback"]).read_text(encoding="utf-8")
    assert feedback.count("Flagged for review") >= 3


def test_attack3_a_copy_of_the_library_body_is_flagged(hostile):
    row = hostile["rows"]["a3_copy"]
    assert _statuses(row) == (F, C, N) and row["total"] == 3
    flag = row["exercises"][0]["flag"]
    assert "same bytecode as the library's own `rlcourse.mdp.discounted_return`" in flag
    assert "is a copy of the library's own `rlcourse.mdp.discounted_return`" in flag


def test_attack7_the_time_budget_does_not_grow_with_the_cells(hostile):
    row = hostile["rows"]["a07_sleepy"]
    # q1 was answered before the sleeping cells; the budget stops them, the check still runs
    assert _statuses(row)[0] == C and row["total"] == 2
    assert any(f"time budget of {BUDGET} s" in e for e in row["errors"])
    assert row["time_s"] < BUDGET + 90  # budget + kernel start + checks, not 40 x 9 s


def test_attack8_no_process_survives_and_memory_is_limited(hostile):
    assert _survivors() == []
    row = hostile["rows"]["a8_spawn"]
    assert _statuses(row)[0] == C and row["total"] == 2
    assert any("raised MemoryError" in e for e in row["errors"])
    assert _leftover_folders() == []


def test_no_memory_addresses_in_the_feedback(hostile):
    for path in (hostile["out"] / "feedback").glob("*.md"):
        assert " at 0x" not in path.read_text(encoding="utf-8")


# ---- attack 4: one submission reaching the others, the grader and the machine -----------------

REACH = """
    import os, signal, subprocess
    from pathlib import Path

    TARGETS = {targets!r}

    def attempt(action):
        try:
            action()
            return 1
        except Exception:
            return 0

    def kill_workers():
        for p in os.listdir("/proc"):
            if p.isdigit() and int(p) != os.getppid():
                try:
                    with open(f"/proc/{{p}}/cmdline", "rb") as fh:
                        if b"rlcourse.grading._worker" in fh.read():
                            os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass

    def home_marker():
        Path(TARGETS["home"], ".rlcourse").mkdir(exist_ok=True)
        Path(TARGETS["home"], ".rlcourse", "attack-marker").write_text("x")

    done = {{}}
    done["env"] = len(os.environ.get("RLCOURSE_TEST_SECRET", ""))
    done["mine"] = len([n for n in os.listdir(".") if n.endswith(".ipynb")])
    if TARGETS["destructive"]:
        done["read"] = attempt(lambda: open(TARGETS["classmate"], "rb").read(1))
        done["overwrite"] = attempt(lambda: open(TARGETS["classmate"], "w").write("{{}}"))
        book = Path(TARGETS["out"], "gradebook.json")
        done["gradebook"] = attempt(lambda: book.write_text("{{}}"))
        done["feedback"] = attempt(lambda: Path(TARGETS["out"], "feedback").write_text("x"))
        done["home"] = attempt(home_marker)
        pth = Path(TARGETS["site"], "zz_attack.pth")
        done["pth"] = attempt(lambda: pth.write_text("import os"))
        kids = []
        try:  # more processes than --nproc allows
            for _ in range(100):
                kids.append(subprocess.Popen(["sleep", TARGETS["marker"]]))
        except OSError:
            pass
        done["many"] = int(len(kids) == 100)
    kill_workers()

    def discounted_return(rewards, gamma):
        return float(sum(done.values()))
"""


def _reach(targets: dict) -> str:
    return REACH.format(targets=targets)


def test_attack4_process_mode_scrubs_the_environment_and_survives_a_killed_worker(hostile):
    row = hostile["rows"]["a04_reach"]
    # no instructor variable reached the kernel; its folder held its own copy only
    assert "expected 2.75, got 1" in row["exercises"][0]["message"]
    assert any("sends signals to processes" in e for e in row["errors"])
    # it killed the other grading worker: whoever was graded there was graded again
    assert hostile["rows"]["alice"]["total"] == 8


def _user_mode_works() -> str:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return "needs root on Linux"
    return ""


@pytest.mark.skipif(bool(_user_mode_works()), reason=_user_mode_works() or "ok")
def test_attack4_user_mode_keeps_the_others_the_grader_and_the_machine_safe(tmp_path, monkeypatch):
    import site

    monkeypatch.setenv("RLCOURSE_TEST_SECRET", "instructor-secret")
    folder, out = tmp_path / "class", tmp_path / "out"
    alice = subs.write(subs.correct(), folder / "alice" / "00_welcome.ipynb")
    subs.write(subs.lesson(), folder / "uma" / "00_welcome.ipynb")
    before = alice.read_bytes()
    home_marker = Path.home() / ".rlcourse" / "attack-marker"
    targets = {
        "destructive": True,
        "classmate": str(alice),
        "out": str(out),
        "home": str(Path.home()),
        "site": site.getsitepackages()[0],
        "marker": MARKER,
    }
    subs.write(_with_cells(_reach(targets)), folder / "a4_reach" / "00_welcome.ipynb")
    try:
        report = grade([folder], out, timeout=TIMEOUT, budget=BUDGET, jobs=2, progress=False,
                       isolate="user", nproc=48)  # fmt: skip
    finally:
        leaked = [p for p in (home_marker, Path(targets["site"], "zz_attack.pth")) if p.exists()]
        for p in leaked:
            p.unlink()
    assert leaked == []
    rows = {r["student"]: r for r in report.rows}
    assert alice.read_bytes() == before
    assert rows["alice"]["total"] == 8 and rows["uma"]["total"] == 0
    assert rows["alice"]["errors"] == []  # the lesson ran normally inside the namespace
    assert [e["status"] for e in rows["uma"]["exercises"]] == [N, N, N]
    # nothing succeeded but seeing its own copy: env 0, own notebook 1, every other try 0
    # (reading, overwriting, the gradebook, the home folder, the installation, 100 processes)
    assert "expected 2.75, got 1" in rows["a4_reach"]["exercises"][0]["message"]
    assert {p.name for p in out.iterdir()} <= {
        "feedback",
        "gradebook.csv",
        "gradebook.json",
        "grading-log.txt",
    }
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [
        "a4_reach.md",
        "alice.md",
        "uma.md",
    ]
    assert _survivors() == [] and _leftover_folders() == []


# ---- attacks 5 and 6: the class folder itself ----------------------------------------------------


def test_attack5_symbolic_links_are_refused_and_the_classmate_keeps_the_row(hostile):
    rows = hostile["rows"]
    assert rows["alice"]["total"] == 8 and rows["alice"]["file"] == str(hostile["paths"]["alice"])
    for who in ("a5_mallory", "a5_trudy"):
        assert rows[who]["total"] == 0
        assert rows[who]["errors"][0].startswith("refused: a symbolic link (to ")
        assert all(e["status"] == "not graded" for e in rows[who]["exercises"])


def test_attack6_hostile_names_cannot_break_the_gradebook(hostile):
    rows, report, out = hostile["rows"], hostile["report"], hostile["out"]
    assert all(len(r["student"]) <= 100 for r in rows.values())
    assert ("x" * 90) in "".join(rows)  # the long name, cut with a hash of the rest
    assert "line?break" in rows and all("\n" not in r["student"] for r in rows.values())
    assert "José" in rows and "Jose\u0301" in rows  # two students, told apart
    text = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert any("look alike" in w for w in report.warnings)
    assert any(".hidden" in w and "graded" in w for w in report.warnings)
    assert ".hidden" in rows
    assert len({r["feedback"] for r in rows.values()}) == len({r["student"] for r in rows.values()})
    assert all(len(Path(r["feedback"]).name) < 100 for r in rows.values())
    for r in rows.values():
        assert (out / r["feedback"]).is_file()


def test_a_feedback_file_in_the_output_folder_is_an_error_not_a_lost_gradebook(tmp_path):
    nb = subs.write(subs.lesson(), tmp_path / "class" / "uma" / "00_welcome.ipynb")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "feedback").write_text("planted")
    with pytest.raises(ValueError, match="feedback exists and is not a folder"):
        grade([nb], tmp_path / "out", timeout=TIMEOUT, progress=False)


def test_ctrl_c_keeps_the_rows_and_a_rerun_resumes(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    for name in ("a_alice", "b_bob"):
        subs.write(subs.correct(), folder / name / "00_welcome.ipynb")
    argv = [sys.executable, "-m", "rlcourse.cli", "grade", str(folder), "--out", str(out)]
    argv += ["--timeout", str(TIMEOUT), "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    book = out / "gradebook.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        book.exists() and json.loads(book.read_text(encoding="utf-8"))["submissions"]
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    kept = json.loads(book.read_text(encoding="utf-8"))["submissions"]
    assert len(kept) == 1 and all(r["total"] == 8 for r in kept)
    assert _leftover_folders() == [] and _survivors() == []
    # the same command again grades only the rest
    report = grade([folder], out, timeout=TIMEOUT, jobs=1, progress=False)
    assert report.resumed == len(kept)
    assert [r["total"] for r in report.rows] == [8, 8]
    again = {r["file"]: r for r in report.rows}
    for r in kept:
        assert again[r["file"]]["time_s"] == r["time_s"]  # kept, not graded again


def test_attack8_a_kernel_that_cannot_start_is_a_row_with_its_reason(tmp_path):
    nb = subs.write(subs.lesson(), tmp_path / "class" / "uma" / "00_welcome.ipynb")
    report = grade([nb], tmp_path / "out", timeout=TIMEOUT, memory_mb=48, progress=False)
    (row,) = report.rows
    assert row["total"] == 0 and [e["status"] for e in row["exercises"]] == ["not graded"] * 3
    assert row["errors"][0].startswith("the kernel could not run: ")
    assert (tmp_path / "out" / "grading-log.txt").read_text(encoding="utf-8").strip()
    assert _survivors() == [] and _leftover_folders() == []
