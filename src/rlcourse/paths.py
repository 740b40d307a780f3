"""Where the course's files are.

A source checkout holds ``course/``, ``solutions/`` and ``lessons/`` next to ``src/``. An
installed package (a wheel, Colab, Binder) carries its own copy of the syllabus, written into
the wheel from ``course/syllabus.toml`` when it is built, so the lesson checks work anywhere.
A student's own notebooks live in one fixed folder, :func:`student_dir`.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = [
    "project_root",
    "syllabus_path",
    "packaged_syllabus",
    "solutions_dir",
    "lessons_dir",
    "student_dir",
    "STUDENT_DIR_ENV",
]

STUDENT_DIR_ENV = "RLCOURSE_LESSONS_DIR"
_CHECKOUT = Path(__file__).resolve().parents[2]


def _has_course(folder: Path) -> bool:
    return (folder / "course" / "syllabus.toml").is_file()


def project_root() -> Path:
    """The folder holding ``course/syllabus.toml``.

    Looked up in this order: the ``RLCOURSE_ROOT`` environment variable, the source checkout
    this package was installed from (``pip install -e .``), the current folder and its parents.
    """
    candidates: list[Path] = []
    env = os.environ.get("RLCOURSE_ROOT")
    if env:
        candidates.append(Path(env))
    candidates.append(_CHECKOUT)
    cwd = Path.cwd().resolve()
    candidates.extend([cwd, *cwd.parents])
    for c in candidates:
        if _has_course(c):
            return c
    raise FileNotFoundError(
        "cannot find the course folder (course/syllabus.toml): install the course with "
        "`pip install -e .` from its checkout, run from inside the checkout, or set RLCOURSE_ROOT"
    )


def packaged_syllabus() -> Path | None:
    """The syllabus inside the installed package, or None (a source tree without a build)."""
    path = resources.files("rlcourse").joinpath("syllabus.toml")
    return Path(str(path)) if path.is_file() else None


def syllabus_path() -> Path:
    """The syllabus the lesson checks read.

    ``RLCOURSE_ROOT/course/syllabus.toml`` when that variable is set, else the source
    checkout's ``course/syllabus.toml`` (an editable install), else the copy inside the
    installed package — never a folder that merely happens to be the current one, so an
    installed course always reads the syllabus of its own version.
    """
    env = os.environ.get("RLCOURSE_ROOT")
    if env and _has_course(Path(env)):
        return Path(env) / "course" / "syllabus.toml"
    if _has_course(_CHECKOUT):
        return _CHECKOUT / "course" / "syllabus.toml"
    packaged = packaged_syllabus()
    if packaged is not None:
        return packaged
    return project_root() / "course" / "syllabus.toml"


def solutions_dir() -> Path:
    return project_root() / "solutions"


def lessons_dir() -> Path:
    return project_root() / "lessons"


def student_dir() -> Path:
    """The student's work folder: ``$RLCOURSE_LESSONS_DIR``, else ``~/rlcourse-lessons``.

    One fixed place, whatever folder ``rlcourse lab`` is started from, so work is never
    "lost" by starting the lab somewhere else.
    """
    env = os.environ.get(STUDENT_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / "rlcourse-lessons"
