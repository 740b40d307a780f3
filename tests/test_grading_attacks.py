"""`rlcourse grade` against hostile submissions: each attack is a real notebook graded beside
an honest one (alice: 8/8) and an untouched one (uma: 0/8), and both keep their marks."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import signal
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

TIMEOUT, BUDGET = 3, 20
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

SLEEPY = [f"import time\ntime.sleep({TIMEOUT - 0.5})\n"] * 40

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
        "a7_sleepy": subs.write(
            _with_cells(KEEP_ALIVE, *SLEEPY, answers={"discounted_return": None}),
            folder / "a7_sleepy" / "00_welcome.ipynb",
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


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    paths = _hostile_class(root)
    out = root / "out"
    start = time.monotonic()
    report = grade(
        [root / "class"],
        out,
        timeout=TIMEOUT,
        budget=BUDGET,
        jobs=2,
        memory_mb=1536,
        progress=False,
    )
    wall = time.monotonic() - start
    rows = {r["student"]: r for r in report.rows}
    yield {"root": root, "paths": paths, "out": out, "rows": rows, "wall": wall}
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
    assert row["total"] == 0 and _statuses(row) == (N, N, N)
    assert any("posing as the grader's results (ignored)" in e for e in row["errors"])
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
    row = hostile["rows"]["a7_sleepy"]
    # q1 was answered before the sleeping cells; the budget stops them, the check still runs
    assert _statuses(row)[0] == C and row["total"] == 2
    assert any(f"time budget of {BUDGET} s" in e for e in row["errors"])
    assert row["time_s"] < BUDGET + 30  # budget + kernel start + checks, not 40 x 2.5 s


def test_attack8_no_process_survives_and_memory_is_limited(hostile):
    assert _survivors() == []
    row = hostile["rows"]["a8_spawn"]
    assert _statuses(row)[0] == C and row["total"] == 2
    assert any("raised MemoryError" in e for e in row["errors"])
    assert _leftover_folders() == []


def test_no_memory_addresses_in_the_feedback(hostile):
    for path in (hostile["out"] / "feedback").glob("*.md"):
        assert " at 0x" not in path.read_text(encoding="utf-8")
