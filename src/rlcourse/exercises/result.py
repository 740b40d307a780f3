"""What a check found (:class:`Result`, :class:`Status`) and how hints show (:class:`Hint`).

Kept apart from the checker so that the progress file (``progress.py``) and the checker
(``framework.py``) both build on it without importing each other.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["Hint", "Result", "Status"]


class Status(str, Enum):
    NOT_ATTEMPTED = "not attempted"
    INCORRECT = "incorrect"
    CORRECT = "correct"


_CODE = re.compile(r"`([^`\n]+)`")

# colour, background and mark per outcome; "not attempted" is an open circle (an ellipsis
# read as text cut short)
_LOOK = {
    Status.CORRECT: ("#1b5e20", "#e8f5e9", "✔"),
    Status.INCORRECT: ("#b71c1c", "#ffebee", "✘"),
    Status.NOT_ATTEMPTED: ("#37474f", "#eceff1", "○"),
}


def message_html(message: str) -> str:
    """A feedback message as HTML: prose in the page's font with back-quoted code as code, and the
    indented lines of a failing case (inputs, expected, got) in a monospace block."""
    parts = []
    for line in message.split("\n"):
        if line.startswith("  "):
            parts.append(
                '<div style="font-family:monospace;white-space:pre-wrap;margin-left:1.2em">'
                f"{html.escape(line.strip())}</div>"
            )
        else:
            prose = _CODE.sub(r"<code>\1</code>", html.escape(line))
            parts.append(f"<div>{prose}</div>")
    return "".join(parts)


@dataclass(frozen=True)
class Result:
    """What a check found. Shows as HTML in Jupyter and as stable plain text elsewhere."""

    lesson: str
    exercise: str
    name: str
    status: Status
    message: str
    points: int
    score: float

    @property
    def correct(self) -> bool:
        return self.status is Status.CORRECT

    def __str__(self) -> str:
        head = f"[{self.lesson}.{self.exercise} {self.name}] {self.status.value}"
        head += f" · {self.score:g}/{self.points} points"
        return head + ("\n" + self.message if self.message else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        fg, bg, mark = _LOOK[self.status]
        return (
            f'<div style="border-left:4px solid {fg};background:{bg};padding:6px 10px;'
            f'margin:4px 0;font-family:sans-serif">'
            f'<b style="color:{fg}">{mark} {self.lesson}.{self.exercise} '
            f"<code>{html.escape(self.name)}</code>: {self.status.value}</b> "
            f'<span style="color:#555">({self.score:g}/{self.points} points)</span>'
            f'<div style="margin-top:4px">{message_html(self.message)}</div></div>'
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "lesson": self.lesson,
            "exercise": self.exercise,
            "name": self.name,
            "status": self.status.value,
            "message": self.message,
            "points": self.points,
            "score": self.score,
        }


class Hint(str):
    """A hint or solution text: prints as plain text, renders as Markdown in Jupyter."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return str(self)
