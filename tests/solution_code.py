"""The code of the solution regions, to check that a student-facing output does not hold it."""

from __future__ import annotations

import html
import re

import nbformat

from rlcourse.build import BEGIN, END
from rlcourse.paths import lessons_dir, solutions_dir


def _distinctive(line: str) -> bool:
    """A line of code worth looking for: not a comment, not a lone word such as ``break``."""
    return len(line) >= 8 and not line.startswith("#") and not re.fullmatch(r"[\w.]+", line)


def solution_lines(lesson) -> list[str]:
    """Each distinctive line (stripped) inside the lesson's solution regions that the public
    lesson notebook itself does not also contain."""
    sol = nbformat.read(solutions_dir() / lesson.notebook, as_version=4)
    public = "\n".join(c.source for c in nbformat.read(lessons_dir() / lesson.notebook, 4).cells)
    lines = []
    for cell in sol.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.splitlines():
            if BEGIN.match(line) or END.match(line):
                inside = bool(BEGIN.match(line))
            elif inside and _distinctive(line.strip()) and line.strip() not in public:
                lines.append(line.strip())
    assert lines, f"lesson {lesson.id} has no solution code to look for"
    return lines


def without_markers(source: str) -> str:
    """A solution cell as a student who solved it would write it: marker lines dropped."""
    return "\n".join(x for x in source.splitlines() if not (BEGIN.match(x) or END.match(x)))


def leaked(lines: list[str], text: str) -> list[str]:
    """The lines found in ``text`` (notebook sources, or HTML with its tags removed)."""
    return [line for line in lines if line in text]


def html_text(page: str) -> str:
    """The text of an HTML page: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))
