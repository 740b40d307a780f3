"""Where the course's folders are: the project root holds ``course/``, ``solutions/`` and
``lessons/`` next to ``src/``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "syllabus_path", "solutions_dir", "lessons_dir"]


def project_root() -> Path:
    """The folder holding ``course/syllabus.toml``.

    Looked up in this order: the ``RLCOURSE_ROOT`` environment variable, the source checkout
    this package was installed from (``pip install -e .``), the current folder and its parents.
    """
    candidates: list[Path] = []
    env = os.environ.get("RLCOURSE_ROOT")
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2])
    cwd = Path.cwd().resolve()
    candidates.extend([cwd, *cwd.parents])
    for c in candidates:
        if (c / "course" / "syllabus.toml").is_file():
            return c
    raise FileNotFoundError(
        "cannot find the course folder (course/syllabus.toml): install the course with "
        "`pip install -e .` from its checkout, run from inside the checkout, or set RLCOURSE_ROOT"
    )


def syllabus_path() -> Path:
    return project_root() / "course" / "syllabus.toml"


def solutions_dir() -> Path:
    return project_root() / "solutions"


def lessons_dir() -> Path:
    return project_root() / "lessons"
