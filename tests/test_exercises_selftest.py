"""Every exercise of the syllabus checks itself: the reference passes, a stub is *not
attempted*, and every declared broken variant is *incorrect*."""

from __future__ import annotations

import pytest

from rlcourse.exercises import Exercise, Status, exercises_of, lesson_module
from rlcourse.syllabus import load_syllabus

SYLLABUS = load_syllabus()
ALL = [(lesson.id, e.id) for lesson in SYLLABUS.lessons for e in lesson.exercises]


def _exercise(lesson_id: str, qid: str) -> Exercise:
    return exercises_of(lesson_id)[qid]


def _stub_for(ex: Exercise):
    """What an untouched lesson hands to the check: a function that raises, or ``...``."""
    if ex.kind == "value":
        return ...

    def stub(*args, **kwargs):
        raise NotImplementedError

    stub.__name__ = ex.name
    return stub


@pytest.mark.parametrize(("lesson_id", "qid"), ALL, ids=[f"{a}.{b}" for a, b in ALL])
def test_exercise_checks_itself(lesson_id, qid):
    ex = _exercise(lesson_id, qid)
    spec = SYLLABUS.lesson(lesson_id).exercise(qid)
    assert (ex.name, ex.points) == (spec.name, spec.points)
    assert len(ex.hints) >= 2, "every exercise has at least two layered hints"
    assert ex.solution_text.strip()

    answer = ex.reference if ex.kind == "function" else ex.reference()
    ok = ex.check(answer)
    assert ok.status is Status.CORRECT, ok.message

    assert ex.check(_stub_for(ex)).status is Status.NOT_ATTEMPTED

    assert len(ex.broken) >= 1, "declare at least one broken variant"
    for k, wrong in enumerate(ex.broken):
        r = ex.check(wrong)
        assert r.status is Status.INCORRECT, f"broken variant {k} was not caught: {r}"
        assert r.message


@pytest.mark.parametrize("lesson", SYLLABUS.lessons, ids=lambda x: x.id)
def test_module_defines_exactly_the_syllabus_exercises(lesson):
    mod = lesson_module(lesson.id)
    defined = {k for k, v in vars(mod).items() if isinstance(v, Exercise)}
    assert defined == {e.id for e in lesson.exercises}
