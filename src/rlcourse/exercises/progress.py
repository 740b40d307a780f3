"""A small local progress file: one JSON line per check or hint.

The file is ``~/.rlcourse/progress.jsonl`` unless ``RLCOURSE_PROGRESS`` names another path
(``RLCOURSE_PROGRESS=off`` turns recording off). Recording never raises: a read-only home
folder must not break a lesson.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlcourse.exercises.result import Result
    from rlcourse.syllabus import Syllabus

__all__ = ["progress_path", "read_progress", "record_check", "record_hint", "summarise"]


def progress_path() -> Path | None:
    """Where progress is recorded, or None when recording is off."""
    env = os.environ.get("RLCOURSE_PROGRESS")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    return Path.home() / ".rlcourse" / "progress.jsonl"


def _append(entry: dict[str, Any]) -> None:
    path = progress_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
    except OSError:
        pass


def record_check(result: Result) -> None:
    _append({"event": "check", "time": time.time(), **result.to_dict()})


def record_hint(lesson: str, exercise: str, level: int) -> None:
    _append(
        {
            "event": "hint",
            "time": time.time(),
            "lesson": lesson,
            "exercise": exercise,
            "level": level,
        }
    )


def read_progress(path: Path | None = None) -> list[dict[str, Any]]:
    """All well-formed entries of the progress file (broken lines are skipped)."""
    p = path if path is not None else progress_path()
    if p is None or not p.is_file():
        return []
    entries = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "lesson" in entry and "exercise" in entry:
            entries.append(entry)
    return entries


_RANK = {"not attempted": 0, "incorrect": 1, "correct": 2}


@dataclass(frozen=True)
class LessonProgress:
    lesson: str
    title: str
    score: float
    points: int
    attempted: int
    correct: int
    exercises: int
    hints: int


def summarise(entries: Iterable[dict[str, Any]], syllabus: Syllabus) -> list[LessonProgress]:
    """Per lesson: best score per exercise, how many attempted and correct, hints asked."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    hints: dict[tuple[str, str], int] = {}
    for e in entries:
        key = (str(e["lesson"]), str(e["exercise"]))
        if e.get("event") == "hint":
            hints[key] = max(hints.get(key, 0), int(e.get("level", 0)))
            continue
        if e.get("event") != "check":
            continue
        prev = best.get(key)
        if prev is None or _RANK.get(e.get("status"), 0) >= _RANK.get(prev.get("status"), 0):
            best[key] = e
    rows = []
    for lesson in syllabus.lessons:
        score = 0.0
        attempted = correct = n_hints = 0
        for ex in lesson.exercises:
            entry = best.get((lesson.id, ex.id))
            n_hints += hints.get((lesson.id, ex.id), 0) > 0
            if entry is None:
                continue
            if entry.get("status") != "not attempted":
                attempted += 1
            if entry.get("status") == "correct":
                correct += 1
                score += ex.points
        rows.append(
            LessonProgress(
                lesson.id,
                lesson.title,
                score,
                lesson.points,
                attempted,
                correct,
                len(lesson.exercises),
                n_hints,
            )
        )
    return rows


def format_table(rows: list[LessonProgress]) -> str:
    """The table ``rlcourse progress`` prints."""
    header = f"{'lesson':<7}{'title':<52}{'score':>11}{'attempted':>11}{'correct':>9}{'hints':>7}"
    lines = [header, "-" * len(header)]
    total = possible = 0.0
    for r in rows:
        title = r.title if len(r.title) <= 50 else r.title[:47] + "..."
        lines.append(
            f"{r.lesson:<7}{title:<52}{f'{r.score:g}/{r.points}':>11}"
            f"{f'{r.attempted}/{r.exercises}':>11}{f'{r.correct}/{r.exercises}':>9}{r.hints:>7}"
        )
        total += r.score
        possible += r.points
    lines.append("-" * len(header))
    lines.append(f"{'total':<59}{f'{total:g}/{possible:g}':>11}")
    return "\n".join(lines)
