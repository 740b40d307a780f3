"""The rule the notebook tests enforce on untouched lessons (see the root conftest.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import untouched_violation


def _out(text: str) -> list:
    return [{"output_type": "execute_result", "data": {"text/plain": text}}]


LESSON = Path("lessons/00_welcome.ipynb")
SRC = "ex.q1.check(discounted_return)"


def test_not_attempted_passes():
    msg = "[00.q1 discounted_return] not attempted · 0/2 points\n`discounted_return` ..."
    assert untouched_violation(LESSON, SRC, _out(msg)) is None


def test_a_lesson_holding_answers_fails():
    msg = "[00.q1 discounted_return] correct · 2/2 points\nCorrect on all 5 test cases."
    reason = untouched_violation(LESSON, SRC, _out(msg))
    assert reason and "['correct']" in reason


def test_a_check_cell_without_a_shown_result_fails():
    assert "no check result" in untouched_violation(LESSON, SRC, [])
    two = SRC + "\nex.q2.check(bellman_backup)"
    one = "[00.q1 discounted_return] not attempted · 0/2 points"
    assert untouched_violation(LESSON, two, _out(one))


def test_other_cells_and_solutions_are_not_concerned():
    assert untouched_violation(LESSON, "x = 1", []) is None
    msg = "[00.q1 discounted_return] correct · 2/2 points"
    assert untouched_violation(Path("solutions/00_welcome.ipynb"), SRC, _out(msg)) is None
