"""The check framework: outcomes, failure modes of student code, display, hints, progress."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from rlcourse.exercises import Case, Exercise, Status, allclose, exact
from rlcourse.exercises.progress import format_table, read_progress, summarise
from rlcourse.syllabus import load_syllabus


def square(x):
    return np.asarray(x, dtype=float) ** 2


def make(**kw):
    base = dict(
        lesson="00",
        id="q1",
        name="square",
        points=2,
        reference=square,
        cases=lambda rng: [Case((rng.normal(size=3),), note="three numbers"), (np.eye(2),)],
        hints=["nudge", "more", "nearly the answer"],
        solution_text="return x ** 2",
        timeout=1.0,
    )
    base.update(kw)
    return Exercise(**base)


def stub(x):
    raise NotImplementedError


def test_reference_is_correct_and_stub_not_attempted():
    ex = make()
    assert ex.check(square).status is Status.CORRECT
    assert ex.check(square).score == 2
    r = ex.check(stub)
    assert r.status is Status.NOT_ATTEMPTED and r.score == 0
    assert ex.check(...).status is Status.NOT_ATTEMPTED
    assert ex.check(None).status is Status.NOT_ATTEMPTED


@pytest.mark.parametrize(
    ("student", "needle"),
    [
        (lambda x: 1 / 0, "raised ZeroDivisionError"),
        (lambda x: np.zeros(7), "wrong shape: expected (3,), got (7,)"),
        (lambda x: np.full(np.shape(x), np.nan), "got NaN in 3 entries"),
        (lambda x: None, "returned None"),
        (lambda x: "a string", "expected numbers (an array of shape (3,)"),
        (lambda x: x**3, "values differ at index"),
    ],
    ids=["exception", "wrong-shape", "nan", "none", "wrong-type", "wrong-values"],
)
def test_failure_modes_are_incorrect_with_a_message(student, needle):
    ex = make()
    r = ex.check(student)
    assert r.status is Status.INCORRECT
    assert needle in r.message
    assert "Test case 1 of 2 (three numbers)" in r.message
    assert "input x = array(shape=(3,)" in r.message
    assert "expected:" in r.message


def test_endless_loop_is_stopped_and_reported():
    def forever(x):
        while True:
            pass

    r = make(timeout=0.3).check(forever)
    assert r.status is Status.INCORRECT
    assert "did not finish within 0.3 s" in r.message
    # the checker survived and still works
    assert make().check(square).correct


def test_endless_loop_off_the_main_thread_is_abandoned():
    box = {}

    def forever(x):
        while not box.get("stop"):
            pass

    def run():
        box["result"] = make(timeout=0.3).check(forever)

    t = threading.Thread(target=run)
    t.start()
    t.join(5)
    box["stop"] = True
    assert box["result"].status is Status.INCORRECT
    assert "did not finish" in box["result"].message


def test_student_swallowing_exceptions_cannot_hide_the_timeout():
    def sneaky(x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    assert "did not finish" in make(timeout=0.2).check(sneaky).message


def test_inputs_are_not_shared_with_the_student():
    seen = []

    def mutating(x):
        seen.append(x)
        x[...] = 0.0
        return square(np.ones_like(x))

    ex = make()
    ex.check(mutating)
    # the student zeroed their copy; the reference saw its own copy, so the first case fails
    assert ex.check(mutating).status is Status.INCORRECT


def test_not_a_function():
    r = make().check(np.ones(3))
    assert r.status is Status.INCORRECT and "expected a function `square`" in r.message


def test_value_exercise():
    ex = make(kind="value", reference=lambda: 0.25, cases=None, compare=allclose(atol=1e-3))
    assert ex.check(0.2501).correct
    assert ex.check(...).status is Status.NOT_ATTEMPTED
    bad = ex.check(0.3)
    assert bad.status is Status.INCORRECT and "expected: 0.25" in bad.message
    assert ex.check("text").status is Status.INCORRECT


def test_exact_compare():
    cmp = exact()
    assert cmp(np.array([1, 2]), np.array([1, 2])) is None
    assert "1 entries differ" in cmp(np.array([1, 3]), np.array([1, 2]))
    assert "wrong shape" in cmp(np.array([1]), np.array([1, 2]))
    assert cmp((1, 2), (1, 2)) is None and cmp(3, 4) == "values differ"


def test_verify_exercise():
    def verify(fn, rng):
        x = rng.normal(size=5)
        return None if np.allclose(fn(x), x**2) else "does not square"

    ex = make(verify=verify, cases=None)
    assert ex.check(square).correct
    assert ex.check(stub).status is Status.NOT_ATTEMPTED
    assert "does not square" in ex.check(lambda x: x).message
    assert "raised ValueError" in ex.check(lambda x: int("a")).message


def test_a_broken_reference_or_compare_never_raises():
    ex = make(compare=lambda got, exp: 1 / 0)
    r = ex.check(square)
    assert r.status is Status.INCORRECT and "could not compare" in r.message


def test_result_display_plain_and_html():
    r = make().check(lambda x: 1 / 0)
    text = str(r)
    assert text.startswith("[00.q1 square] incorrect · 0/2 points")
    assert repr(r) == text
    html = r._repr_html_()
    assert "incorrect" in html and "&lt;" not in r.name
    assert "ZeroDivisionError" in html


def test_hints_are_layered_and_bounded():
    ex = make()
    assert "nudge" in ex.hint() and "hint(2)" in ex.hint()
    assert "nearly the answer" in ex.hint(3) and "(hint 3 of 3)" in ex.hint(3)
    assert "nearly the answer" in ex.hint(99)
    assert "numbered 1 to 3" in ex.hint(0)
    assert "return x ** 2" in ex.solution()


def test_exercise_definition_errors():
    with pytest.raises(ValueError, match="kind"):
        make(kind="essay")
    with pytest.raises(ValueError, match="cases"):
        make(cases=None)
    with pytest.raises(ValueError, match="hints"):
        make(hints=[])


def test_name_and_points_come_from_the_syllabus():
    ex = Exercise(
        lesson="00",
        id="q2",
        reference=square,
        cases=lambda rng: [(1.0,)],
        hints=["h"],
        solution_text="s",
    )
    spec = load_syllabus().lesson("00").exercise("q2")
    assert (ex.name, ex.points) == (spec.name, spec.points)


def test_progress_is_recorded_and_summarised(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("RLCOURSE_PROGRESS", str(path))
    ex = make(name="discounted_return", points=2)
    ex.check(stub)
    ex.check(lambda x: 1 / 0)
    ex.check(square)
    ex.hint(2)
    path.open("a").write("not json\n")
    entries = read_progress(path)
    assert [e.get("status") for e in entries if e["event"] == "check"] == [
        "not attempted",
        "incorrect",
        "correct",
    ]
    rows = summarise(entries, load_syllabus())
    row = rows[0]
    assert (row.lesson, row.score, row.attempted, row.correct, row.hints) == ("00", 2.0, 1, 1, 1)
    table = format_table(rows)
    assert "00" in table and "2/8" in table
    # a later failure does not erase an earlier success
    ex.check(lambda x: 1 / 0)
    assert summarise(read_progress(path), load_syllabus())[0].correct == 1
    assert json.loads(path.read_text().splitlines()[0])["lesson"] == "00"


def test_progress_off_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("RLCOURSE_PROGRESS", "off")
    assert make().check(square).correct
    monkeypatch.setenv("RLCOURSE_PROGRESS", str(tmp_path / "file" / "x.jsonl"))
    (tmp_path / "file").write_text("a file where a folder should be")
    assert make().check(square).correct  # recording fails quietly
