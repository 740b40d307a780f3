"""The syllabus is well formed and agrees with the notebooks and exercise modules."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from rlcourse.paths import lessons_dir, solutions_dir
from rlcourse.syllabus import load_syllabus, parse_syllabus

SYLLABUS = load_syllabus()


def test_lessons_are_in_order_and_complete():
    ids = [lesson.id for lesson in SYLLABUS.lessons]
    assert ids == sorted(ids) and ids[0] == "00"
    for lesson in SYLLABUS.lessons:
        assert lesson.title and 3 <= len(lesson.objectives) <= 5
        assert lesson.exercises, f"lesson {lesson.id} has no exercises"


@pytest.mark.parametrize("lesson", SYLLABUS.lessons, ids=lambda x: x.id)
def test_solution_notebook_defines_and_checks_each_exercise(lesson):
    nb = nbformat.read(solutions_dir() / lesson.notebook, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^np\.random\.default_rng\(|rng = np\.random\.default_rng\(\d+\)", code, re.M)
    assert f"lesson{lesson.id} as ex" in code
    for e in lesson.exercises:
        assert re.search(rf"^(def {e.name}\(|{e.name} = )", code, re.M), e.name
        assert f"ex.{e.id}.check({e.name})" in code
    first = nb.cells[0].source
    assert first.startswith("# Lesson " + lesson.id)


def test_every_notebook_on_disk_is_in_the_syllabus():
    names = {lesson.notebook for lesson in SYLLABUS.lessons}
    for folder in (solutions_dir(), lessons_dir()):
        assert {p.name for p in Path(folder).glob("*.ipynb")} <= names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[lesson]]\nid = "1"\nslug = "1_x"', "two digits"),
        ('[[lesson]]\nid = "01"\nslug = "x"', "slug must start"),
        ('[[lesson]]\nid = "01"\nslug = "01_x"\n[[lesson]]\nid = "01"\nslug = "01_y"', "duplicate"),
        (
            '[[lesson]]\nid = "01"\nslug = "01_x"\n[[lesson.exercise]]\nid = "x"\nname = "f"\n'
            "points = 1",
            "unique 'qN'",
        ),
        (
            '[[lesson]]\nid = "01"\nslug = "01_x"\n[[lesson.exercise]]\nid = "q1"\nname = "1f"\n'
            "points = 1",
            "Python identifier",
        ),
        (
            '[[lesson]]\nid = "01"\nslug = "01_x"\n[[lesson.exercise]]\nid = "q1"\nname = "f"\n'
            "points = 0",
            "positive integer",
        ),
        ("not = = toml", "TOML"),
    ],
)
def test_malformed_syllabus_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_syllabus(text, Path("syllabus.toml"))


def test_lookups():
    assert SYLLABUS.lesson("00").slug == "00_welcome"
    assert SYLLABUS.by_notebook("00_welcome_alice.ipynb").id == "00"
    assert SYLLABUS.by_notebook("notes.ipynb") is None
    with pytest.raises(KeyError, match="no lesson"):
        SYLLABUS.lesson("99")
