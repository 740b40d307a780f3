"""Lesson 10's checks catch the plausible mistakes of q3 with a message that names them."""

from __future__ import annotations

import pytest

from rlcourse.exercises import Status
from rlcourse.exercises import lesson10 as ex


@pytest.mark.parametrize(
    ("variant", "says"),
    [
        ("_argmax_zero_as_never", "its answer is 0, not −1"),
        ("_strictly_greater", "(>=, not >)"),
        ("_absolute_progress", "progress is relative"),
        ("_never_as_zero", "never reaches 90% must give −1"),
    ],
)
def test_q3_names_the_mistake(variant: str, says: str) -> None:
    result = ex.q3.check(getattr(ex, variant))
    assert result.status is Status.INCORRECT
    assert says in result.message
