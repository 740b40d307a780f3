"""Grading pieces without a kernel: finding submissions, naming the lesson, carrying objects
by value, spotting monkeypatching, the gradebook files, bad arguments."""

from __future__ import annotations

import csv
import io

import pytest

from rlcourse.cli import main
from rlcourse.grading import csv_text, find_submissions, grade, write_gradebook
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
        "total", "max_points", "flags", "time_s", "errors",
    ]  # fmt: skip
    assert table[1] == ["x", "x.ipynb", "00", "correct", "2", "", "", "2", "2", "0", "1.2", "a | b"]
    assert table[2] == [
        "y", "y.ipynb", "00", "incorrect", "0", "correct", "3", "3", "5", "0", "1.2", "",
    ]  # fmt: skip


def test_write_gradebook_is_sorted_and_names_files_safely(tmp_path):
    report = write_gradebook(
        [_row("zed", "00", ["correct"]), _row("a b/../c", "00", ["correct"])], tmp_path
    )
    assert [r["student"] for r in report.rows] == ["a b/../c", "zed"]
    odd = report.rows[0]["feedback"]
    assert odd.startswith("feedback/a_b_.._c-") and len(odd) == len("feedback/a_b_.._c-") + 11
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == sorted(
        [odd.removeprefix("feedback/"), "zed.md"]
    )
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
    limits = iter([0.3, 120.0])  # one submission after the other (jobs=1)
    monkeypatch.setattr(grading, "_hard_limit", lambda budget: next(limits))
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
