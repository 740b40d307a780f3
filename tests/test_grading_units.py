"""Grading pieces without a kernel: finding submissions, naming the lesson, carrying objects
by value, spotting monkeypatching, the gradebook files, bad arguments."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import rlcourse.mdp
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


# ---- plain data out of the kernel ------------------------------------------------------------


def test_plain_data_round_trips_and_keeps_types():
    from rlcourse.grading._plain import decode, dumps, encode, loads

    value = {
        "a": np.arange(6, dtype=np.int32).reshape(2, 3),
        "b": (1.5, float("nan"), np.float64(2.0), [True, None, "x"]),
        "c": complex(1, -2),
        "d": Ellipsis,
    }
    back = decode(loads(dumps(encode(value))))
    assert back["a"].dtype == np.int32 and np.array_equal(back["a"], value["a"])
    assert isinstance(back["b"], tuple) and back["b"][0] == 1.5 and np.isnan(back["b"][1])
    assert type(back["b"][2]) is np.float64 and back["b"][3] == [True, None, "x"]
    assert back["c"] == complex(1, -2) and back["d"] is Ellipsis
    assert np.asarray(decode(encode(np.float64(2.75)))).shape == ()
    opaque = decode(encode(object()))
    assert repr(opaque) == "<object object>"  # a stand-in, never the object itself


@pytest.mark.parametrize(
    "bad",
    [
        '{"array": {"dtype": "|O8", "shape": [1], "data": "AAAAAAAAAAA="}}',  # object dtype
        '{"array": {"dtype": "<f8", "shape": [2], "data": "AAAAAAAAAAA="}}',  # size mismatch
        '{"pickle": "gASVAAAAAAAAAAA="}',  # no such field
        '{"list": [1], "tuple": [2]}',  # two tags
        '{"a": 1, "a": 2}',  # duplicate keys
        "NaN",  # bare constants
        '{"opaque": 5}',
    ],
)
def test_plain_data_refuses_anything_else(bad):
    from rlcourse.grading._plain import PlainError, decode, loads

    with pytest.raises(PlainError):
        decode(loads(bad))


def test_the_judge_replays_the_kernel_answers_through_the_lesson_check():
    from rlcourse.grading._judge import judge, plan_lesson
    from rlcourse.grading._plain import encode

    plan = plan_lesson("00")[0]  # q1, discounted_return, 5 recorded calls
    assert len(plan.calls) == 5
    good = [{"ok": encode(rlcourse.mdp.discounted_return(*a, **k))} for a, k in plan.calls]
    right = judge(plan, {"id": "q1", "status": "calls", "results": good, "flags": []})
    assert right == {"status": "correct", "message": "Correct on all 5 test cases.", "flag": ""}
    raised = [{"raised": "ValueError", "message": "bad at 0x7f00deadbeef", "frame": ""}]
    wrong = judge(plan, {"id": "q1", "status": "calls", "results": raised, "flags": []})
    assert wrong["status"] == "incorrect"
    assert "your function raised ValueError: bad" in wrong["message"]
    assert "0x" not in wrong["message"]  # no memory addresses
    stub = [{"raised": "NotImplementedError", "message": "", "notimpl": True}]
    assert judge(plan, {"id": "q1", "status": "calls", "results": stub})["status"] == (
        "not attempted"
    )
    late = judge(plan, {"id": "q1", "status": "calls", "results": [{"timeout": True}]})
    assert "did not finish within" in late["message"]
    flagged = judge(
        plan,
        {"id": "q1", "status": "calls", "results": good, "flags": [{"kind": "calls", "answer": 0}]},
    )
    assert flagged["status"] == "flagged" and "rlcourse.mdp.discounted_return" in flagged["flag"]


@pytest.mark.parametrize(
    "outcome",
    [
        {"id": "q1", "status": "calls", "results": [{"raised": 5, "message": "x"}]},  # int
        {"id": "q1", "status": "calls", "results": [{"ok": 1}] * 99},  # more than asked
        {"id": "q1", "status": "calls", "results": [], "flags": [{"kind": "x", "answer": 0}]},
        {"id": "q2", "status": "calls", "results": []},  # another exercise's
        {"id": "q1", "status": "correct"},
        "correct",
    ],
)
def test_forged_or_malformed_results_earn_nothing(outcome):
    from rlcourse.grading._judge import judge, plan_lesson

    verdict = judge(plan_lesson("00")[0], outcome)
    assert verdict["status"] == "incorrect"
    assert verdict["message"].startswith("the grader received malformed results")


def test_the_library_answer_of_a_wrapper_reference_is_its_library_function():
    from rlcourse.exercises import exercises_of
    from rlcourse.grading._judge import answers_of

    ex = exercises_of("00")
    assert answers_of(ex["q1"]) == [("rlcourse.mdp", "discounted_return")]
    assert answers_of(ex["q3"]) == [
        ("rlcourse.exercises.lesson00", "_vi_reference"),
        ("rlcourse.mdp", "value_iteration"),
    ]


def test_the_source_review_finds_the_library_answer_and_grader_tricks():
    import inspect

    from rlcourse.grading._review import review

    q1 = ("q1", "discounted_return", [("rlcourse.mdp", "discounted_return")])
    copied = "import numpy as np\n" + inspect.getsource(rlcourse.mdp.discounted_return)
    flags, notes = review([(4, copied)], [q1])
    assert flags == {"q1": ["is a copy of the library's own `rlcourse.mdp.discounted_return` "
                            "(cell 4)"]}  # fmt: skip
    honest = "def discounted_return(rewards, gamma):\n    return rewards @ gamma ** np.arange(3)\n"
    assert review([(4, honest)], [q1]) == ({}, [])
    alias = "from rlcourse.mdp import discounted_return as d\n"
    alias += "discounted_return = lambda r, g: d(r, g)\n"
    flags, _ = review([(2, alias)], [q1])
    assert flags["q1"] == ["names the library's own `rlcourse.mdp.discounted_return` (cell 2)"]
    _, notes = review([(7, "import gc\nx = gc.get_objects()\n%timeit 1\n")], [q1])
    assert notes == ["cell 7 uses the garbage collector (`gc`)", "cell 7 walks every live object "
                     "(`gc.get_objects`)"]  # fmt: skip


# ---- instructor conveniences -----------------------------------------------------------------


def test_lesson_override_and_mismatch_notes():
    syl = load_syllabus()
    lesson, notes = identify_lesson({}, "homework.ipynb", syl, override="00")
    assert lesson.id == "00" and notes == []
    lesson, notes = identify_lesson({"rlcourse": {"lesson": "03"}}, "x.ipynb", syl, override="00")
    assert lesson.id == "00"
    assert notes == ["the notebook's metadata names lesson '03'; graded as lesson 00 (--lesson)"]
    lesson, notes = identify_lesson({"rlcourse": {"lesson": "03"}}, "00_welcome.ipynb", syl)
    assert lesson.id == "03"
    assert notes == [
        "the file name `00_welcome.ipynb` is that of lesson 00, but the notebook's metadata "
        "names lesson 03: graded as lesson 03 (use --lesson to choose)"
    ]


def test_solution_notebooks_carry_their_lesson():
    import nbformat

    from rlcourse.paths import solutions_dir

    syl = load_syllabus()
    for lesson in syl.lessons:
        nb = nbformat.read(solutions_dir() / lesson.notebook, as_version=4)
        assert nb.metadata["rlcourse"]["lesson"] == lesson.id


def test_duplicates_warned_progress_silent_off_a_terminal(tmp_path, capsys):
    for name in ("00_welcome.ipynb", "00_welcome-again.ipynb"):
        (tmp_path / "class" / "bob").mkdir(parents=True, exist_ok=True)
        (tmp_path / "class" / "bob" / name).write_text("{}")
    report = grade([tmp_path / "class"], tmp_path / "out", progress=True)
    assert any("'bob' handed in lesson 00 2 times" in w for w in report.warnings)
    assert capsys.readouterr().err == ""  # not a terminal: no progress bar
    with pytest.raises(ValueError, match="lesson: expected one of 00, 01"):
        grade([tmp_path / "class"], tmp_path / "out", lesson="42")
    code = main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "o2"), "--lesson", "0"])
    assert code == 0
    rows = json.loads((tmp_path / "o2" / "gradebook.json").read_text())["submissions"]
    assert [r["lesson"] for r in rows] == ["00", "00"]
