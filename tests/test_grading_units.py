"""Grading pieces without a kernel: finding submissions, naming the lesson, carrying objects
by value, spotting monkeypatching, the gradebook files, bad arguments."""

from __future__ import annotations

import csv
import io
import sys
import types

import numpy as np
import pytest

import rlcourse.mdp
from rlcourse.cli import main
from rlcourse.grading import csv_text, find_submissions, grade, write_gradebook
from rlcourse.grading._checker import _Snapshot
from rlcourse.grading._transfer import dumps, loads
from rlcourse.grading._worker import identify_lesson
from rlcourse.syllabus import load_syllabus

NB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def test_find_submissions(tmp_path):
    (tmp_path / "class" / "bob" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "class" / "bob" / "week1").mkdir()
    for rel in [
        "class/alice.ipynb",
        "class/bob/00_welcome.ipynb",
        "class/bob/week1/extra.ipynb",
        "class/bob/.ipynb_checkpoints/00_welcome-checkpoint.ipynb",
        "class/notes.txt",
        "loose/00_welcome.ipynb",
        "loose/zoe.ipynb",
        "yann/00_welcome.ipynb",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(NB)
    found = find_submissions(
        [
            tmp_path / "class",
            tmp_path / "loose" / "00_welcome.ipynb",
            tmp_path / "loose" / "zoe.ipynb",
            tmp_path / "class" / "alice.ipynb",  # given twice: graded once
            tmp_path / "yann",  # one student's folder
        ]
    )
    got = [(s.student, s.file.relative_to(tmp_path).as_posix()) for s in found]
    assert got == [
        ("alice", "class/alice.ipynb"),
        ("bob", "class/bob/00_welcome.ipynb"),
        ("bob", "class/bob/week1/extra.ipynb"),
        ("loose", "loose/00_welcome.ipynb"),
        ("zoe", "loose/zoe.ipynb"),
        ("yann", "yann/00_welcome.ipynb"),
    ]


def test_identify_lesson():
    syl = load_syllabus()
    lesson, notes = identify_lesson({"rlcourse": {"lesson": "00"}}, "anything.ipynb", syl)
    assert lesson.id == "00" and notes == []
    lesson, notes = identify_lesson({}, "00_welcome-alice.ipynb", syl)
    assert lesson.id == "00" and notes == []
    lesson, notes = identify_lesson({"rlcourse": {"lesson": "77"}}, "00_welcome.ipynb", syl)
    assert lesson.id == "00"
    assert notes == [
        "the notebook's metadata names lesson '77', not in the syllabus; "
        "graded as lesson 00 from the file name"
    ]
    lesson, notes = identify_lesson(None, "homework.ipynb", syl)
    assert lesson is None
    assert notes == [
        "unknown lesson: no lesson in the notebook's metadata, and the file name "
        "`homework.ipynb` matches no lesson"
    ]


STUDENT_CODE = """
import numpy as np

SCALE = 3.0

def helper(x):
    return SCALE * x

def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)

def make_adder(k):
    def add(x):
        return x + k + helper(0)
    return add

add2 = make_adder(2)

class Counter:
    start = 10
    def bump(self, by=1):
        return self.start + by + fact(3)

def uses_numpy(x):
    return np.allclose(x, x)

answer = np.arange(4.0)
"""


def _student_namespace() -> dict:
    ns: dict = {"__name__": "__main__"}
    exec(compile(STUDENT_CODE, "<cell>", "exec"), ns)  # noqa: S102 — mimics a notebook cell
    return ns


def test_functions_and_classes_travel_by_value():
    ns = _student_namespace()
    fact = loads(dumps(ns["fact"]))
    assert fact is not ns["fact"] and fact(5) == 120  # recursion through its own globals
    add2 = loads(dumps(ns["add2"]))
    assert add2(1) == 3  # closure and a helper global
    Counter = loads(dumps(ns["Counter"]))
    assert Counter is not ns["Counter"] and Counter().bump(2) == 18
    assert np.array_equal(loads(dumps(ns["answer"])), np.arange(4.0))


def test_modules_and_library_functions_travel_by_reference():
    ns = _student_namespace()
    fn = loads(dumps(ns["uses_numpy"]))
    assert fn.__globals__["np"] is sys.modules["numpy"]
    assert loads(dumps(rlcourse.mdp.bellman_backup)) is rlcourse.mdp.bellman_backup
    # a patched module attribute in the sender is not part of what travels
    fake_np = types.ModuleType("numpy")
    ns["np"] = fake_np
    assert loads(dumps(ns["uses_numpy"])).__globals__["np"] is sys.modules["numpy"]


def test_snapshot_spots_patches_but_not_new_submodules(monkeypatch):
    snap = _Snapshot({})
    assert snap.changed() == []
    monkeypatch.setattr(rlcourse.mdp, "bellman_backup", lambda *a: 0)
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    assert snap.changed() == ["numpy.allclose", "rlcourse.mdp.bellman_backup"]
    monkeypatch.undo()
    assert snap.changed() == []
    monkeypatch.setattr(rlcourse.mdp, "shadow", 1, raising=False)  # a new name in rlcourse
    assert snap.changed() == ["rlcourse.mdp.shadow"]


def _row(student: str, lesson: str, statuses: list[str]) -> dict:
    pts = [2, 3][: len(statuses)]
    exercises = [
        {
            "id": f"q{i + 1}",
            "name": f"f{i + 1}",
            "status": s,
            "points": p if s == "correct" else 0,
            "max_points": p,
            "message": f"message {i + 1}",
            "hint_level": i,
        }
        for i, (s, p) in enumerate(zip(statuses, pts, strict=True))
    ]
    return {
        "student": student,
        "file": f"{student}.ipynb",
        "lesson": lesson,
        "lesson_title": "T",
        "exercises": exercises,
        "total": sum(e["points"] for e in exercises),
        "max_points": sum(pts),
        "time_s": 1.25,
        "errors": ["a", "b"] if student == "x" else [],
    }


def test_csv_columns_cover_the_longest_lesson():
    rows = [_row("x", "00", ["correct"]), _row("y", "00", ["incorrect", "correct"])]
    table = list(csv.reader(io.StringIO(csv_text(rows))))
    assert table[0] == [
        "student", "file", "lesson", "q1_status", "q1_points", "q2_status", "q2_points",
        "total", "max_points", "time_s", "errors",
    ]  # fmt: skip
    assert table[1] == ["x", "x.ipynb", "00", "correct", "2", "", "", "2", "2", "1.2", "a | b"]
    assert table[2] == ["y", "y.ipynb", "00", "incorrect", "0", "correct", "3", "3", "5", "1.2", ""]


def test_write_gradebook_is_sorted_and_names_files_safely(tmp_path):
    report = write_gradebook(
        [_row("zed", "00", ["correct"]), _row("a b/../c", "00", ["correct"])], tmp_path
    )
    assert [r["student"] for r in report.rows] == ["a b/../c", "zed"]
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["a_b_.._c.md", "zed.md"]
    assert report.rows[0]["feedback"] == "feedback/a_b_.._c.md"
    assert not list(tmp_path.rglob(".*.tmp"))


def test_bad_arguments(tmp_path, capsys):
    (tmp_path / "a.ipynb").write_text(NB)
    with pytest.raises(ValueError, match="timeout: expected a finite positive number"):
        grade([tmp_path], tmp_path / "out", timeout=0)
    with pytest.raises(ValueError, match="jobs: expected a positive integer, got 0"):
        grade([tmp_path], tmp_path / "out", jobs=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"PATH: no notebooks \(\*\.ipynb\) found"):
        grade([tmp_path / "empty"], tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="PATH: no such notebook or folder"):
        find_submissions([tmp_path / "missing"])
    assert main(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "rlcourse grade: error: PATH: no such notebook" in capsys.readouterr().err


def test_a_hung_grading_process_is_stopped_and_replaced(tmp_path, monkeypatch):
    import rlcourse.grading as grading

    for name in ("a_slow.ipynb", "b_fine.ipynb"):
        (tmp_path / name).write_text(NB)
    limits = {"a_slow.ipynb": 0.3, "b_fine.ipynb": 120.0}
    monkeypatch.setattr(grading, "_hard_limit", lambda file, timeout: limits[file.name])
    report = grade([tmp_path], tmp_path / "out", jobs=1, progress=False)
    slow, fine = report.rows
    assert slow["student"] == "a_slow"
    assert slow["errors"] == ["grading took longer than 0.3 s and was stopped"]
    assert slow["total"] == 0 and slow["exercises"] == []
    assert fine["student"] == "b_fine"  # graded by a new process after the first was stopped
    assert fine["errors"] == [
        "unknown lesson: no lesson in the notebook's metadata, and the file name "
        "`b_fine.ipynb` matches no lesson"
    ]
