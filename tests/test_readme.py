"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Set-up: two commands.*?```bash\n(.*?)```", text, re.S)
    assert block, "README needs a 'Set-up: two commands' section with a bash block"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_has_exactly_two_commands():
    cmds = _commands()
    assert len(cmds) == 2
    assert "rlcourse lab" in cmds[0] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in ci
    assert _commands()[1] in ci.splitlines()


def test_readme_lesson_map_follows_the_syllabus():
    from rlcourse.syllabus import load_syllabus

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): (m.group(2).strip(), int(m.group(3)))
        for m in re.finditer(r"^\| (\d\d) \| ([^|]+)\|[^|]*\| (\d+) \|$", text, re.M)
    }
    for lesson in load_syllabus().lessons:
        assert lesson.id in rows, f"README's lesson map misses lesson {lesson.id}"
        assert rows[lesson.id] == (lesson.title, lesson.points), lesson.id
