"""The syllabus, ``course/syllabus.toml``: lesson order, titles, objectives, exercises, points.

Everything that lists lessons (build, progress, grading, tests) reads it through here.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rlcourse.paths import syllabus_path

__all__ = ["ExerciseSpec", "LessonSpec", "Syllabus", "load_syllabus"]

_ID = re.compile(r"^[0-9]{2}$")
_QID = re.compile(r"^q[0-9]+$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExerciseSpec:
    """One graded exercise: its id (``q1``), the name the student defines, and its points."""

    id: str
    name: str
    points: int
    title: str = ""


@dataclass(frozen=True)
class LessonSpec:
    """One lesson: ``id`` ("00"), ``slug`` ("00_welcome"), its exercises in order."""

    id: str
    slug: str
    title: str
    objectives: tuple[str, ...]
    exercises: tuple[ExerciseSpec, ...]
    minutes: int = 60

    @property
    def notebook(self) -> str:
        """File name of the lesson's notebook in ``solutions/`` and ``lessons/``."""
        return f"{self.slug}.ipynb"

    @property
    def module(self) -> str:
        """Import path of the lesson's exercise module."""
        return f"rlcourse.exercises.lesson{self.id}"

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)

    def exercise(self, qid: str) -> ExerciseSpec:
        for e in self.exercises:
            if e.id == qid:
                return e
        raise KeyError(f"lesson {self.id} has no exercise {qid!r}")


@dataclass(frozen=True)
class Syllabus:
    title: str
    lessons: tuple[LessonSpec, ...]

    def lesson(self, lesson_id: str) -> LessonSpec:
        for lesson in self.lessons:
            if lesson.id == lesson_id or lesson.slug == lesson_id:
                return lesson
        known = ", ".join(x.id for x in self.lessons)
        raise KeyError(f"no lesson {lesson_id!r} in the syllabus (known: {known})")

    def by_notebook(self, filename: str) -> LessonSpec | None:
        """The lesson whose notebook is ``filename`` (or whose slug starts it), else None."""
        stem = Path(filename).stem
        for lesson in self.lessons:
            if stem == lesson.slug or stem.startswith(lesson.slug):
                return lesson
        return None


def _fail(path: Path, where: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {where}: {msg}")


def parse_syllabus(text: str, path: Path) -> Syllabus:
    """Parse and validate syllabus TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, "TOML", str(exc)) from None
    lessons = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("lesson", [])):
        where = f"lesson #{i + 1}"
        lid = str(raw.get("id", ""))
        if not _ID.match(lid):
            raise _fail(path, where, f"id must be two digits, got {lid!r}")
        if lid in seen:
            raise _fail(path, where, f"duplicate lesson id {lid!r}")
        seen.add(lid)
        slug = str(raw.get("slug", ""))
        if not slug.startswith(lid + "_"):
            raise _fail(path, where, f"slug must start with '{lid}_', got {slug!r}")
        exercises = []
        qids: set[str] = set()
        for j, ex in enumerate(raw.get("exercise", [])):
            ew = f"{where}, exercise #{j + 1}"
            qid, name, points = ex.get("id", ""), ex.get("name", ""), ex.get("points")
            if not _QID.match(str(qid)) or qid in qids:
                raise _fail(path, ew, f"id must be a unique 'qN', got {qid!r}")
            if not _NAME.match(str(name)):
                raise _fail(path, ew, f"name must be a Python identifier, got {name!r}")
            if not isinstance(points, int) or points <= 0:
                raise _fail(path, ew, f"points must be a positive integer, got {points!r}")
            qids.add(qid)
            exercises.append(ExerciseSpec(qid, name, points, str(ex.get("title", ""))))
        lessons.append(
            LessonSpec(
                id=lid,
                slug=slug,
                title=str(raw.get("title", "")),
                objectives=tuple(raw.get("objectives", [])),
                exercises=tuple(exercises),
                minutes=int(raw.get("minutes", 60)),
            )
        )
    return Syllabus(title=str(data.get("title", "")), lessons=tuple(lessons))


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Syllabus:
    p = Path(path)
    return parse_syllabus(p.read_text(encoding="utf-8"), p)


def load_syllabus(path: str | Path | None = None) -> Syllabus:
    """Load ``course/syllabus.toml`` (or ``path``)."""
    p = Path(path) if path is not None else syllabus_path()
    return _load(str(p), p.stat().st_mtime)
