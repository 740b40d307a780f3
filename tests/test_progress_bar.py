"""Progress bars: drawn by tqdm on a terminal, silent when the output is redirected."""

from __future__ import annotations

import io

from rlcourse._progress import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_the_output_is_not_a_terminal():
    out = io.StringIO()
    assert list(progress(range(50), desc="sweep", stream=out)) == list(range(50))
    assert out.getvalue() == ""


def test_drawn_on_a_terminal_with_the_count():
    out = _Terminal()
    assert list(progress(range(5), desc="sweep", stream=out, width=60)) == list(range(5))
    text = out.getvalue()
    assert "sweep" in text and "5/5" in text


def test_disabled_draws_nothing_and_generators_work():
    out = _Terminal()
    items = (i * i for i in range(4))
    assert list(progress(items, total=4, enabled=False, stream=out)) == [0, 1, 4, 9]
    assert out.getvalue() == ""
    assert list(progress((i for i in range(3)), stream=_Terminal())) == [0, 1, 2]
