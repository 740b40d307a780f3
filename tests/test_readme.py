"""The README's set-up works on a stock machine and its commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = "python3 -m venv .venv && . .venv/bin/activate"


def _setup_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"## Set-up: two commands\n(.*?)\n## ", text, re.S)
    assert m, "README needs a 'Set-up: two commands' section"
    return m.group(1)


def _blocks() -> list[list[str]]:
    """The bash blocks of the set-up section, as lists of commands (comments dropped)."""
    return [
        [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        for block in re.findall(r"```bash\n(.*?)```", _setup_section(), re.S)
    ]


def _commands() -> list[str]:
    (block,) = [b for b in _blocks() if any("rlcourse lab" in c for c in b)]
    return block


def test_readme_has_exactly_two_commands():
    cmds = _commands()
    assert len(cmds) == 2
    assert cmds[0] == 'python -m pip install -e ".[lab]" && rlcourse lab'
    assert "pytest" in cmds[1] and '".[dev]"' in cmds[1]


def test_readme_set_up_works_on_a_stock_machine():
    """A virtual environment made with `python3` (stock Debian has no `python`), said to be
    required; Ctrl+C; the second terminal; the SSH tunnel; the first notebook."""
    section = _setup_section()
    assert [VENV] in _blocks()
    assert "required" in section and "python3-venv" in section
    assert "Ctrl+C" in section
    assert "second terminal" in section and ". .venv/bin/activate" in section
    assert ["ssh -L 8888:localhost:8888 user@host"] in _blocks()
    assert "00_welcome.ipynb" in section
    assert "~/rlcourse-lessons" in section and "RLCOURSE_LESSONS_DIR" in section
    assert "--update" in section
    assert "python -m venv" not in section


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in ci.splitlines()]
    assert "set -euo pipefail" in ci
    assert VENV in lines, "CI makes the virtual environment the README's way"
    assert _commands()[1] in lines
    assert lines.index(VENV) < lines.index(_commands()[1])


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
