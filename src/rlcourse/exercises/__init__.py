"""Exercise checks. In a lesson: ``from rlcourse.exercises import lesson03 as ex`` then
``ex.q2.check(my_function)``, ``ex.q2.hint()``, ``ex.q2.hint(2)``, ``ex.q2.solution()``."""

from __future__ import annotations

import importlib
from types import ModuleType

from rlcourse.exercises.framework import Case, Exercise, Result, Status, allclose, exact

__all__ = [
    "Case",
    "Exercise",
    "Result",
    "Status",
    "allclose",
    "exact",
    "exercises_of",
    "lesson_module",
]


def lesson_module(lesson_id: str) -> ModuleType:
    """The exercise module of a lesson (``"03"`` → ``rlcourse.exercises.lesson03``)."""
    return importlib.import_module(f"rlcourse.exercises.lesson{lesson_id}")


def exercises_of(lesson_id: str) -> dict[str, Exercise]:
    """The lesson's exercises by id, in the syllabus's order."""
    from rlcourse.syllabus import load_syllabus

    mod = lesson_module(lesson_id)
    spec = load_syllabus().lesson(lesson_id)
    out = {}
    for e in spec.exercises:
        ex = getattr(mod, e.id, None)
        if not isinstance(ex, Exercise):
            raise LookupError(f"{mod.__name__} defines no exercise {e.id!r}")
        out[e.id] = ex
    return out
