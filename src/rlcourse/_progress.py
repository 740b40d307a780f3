"""A tiny text progress bar (stderr), so the CLI needs no extra dependency."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    stream: TextIO | None = None,
    width: int = 30,
) -> Iterator[T]:
    """Yield from ``items`` while drawing ``desc [#####.....] i/total`` on ``stream``."""
    out = sys.stderr if stream is None else stream
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None

    def draw(i: int) -> None:
        if not enabled:
            return
        if total:
            filled = int(width * i / total)
            bar = "#" * filled + "." * (width - filled)
            out.write(f"\r{desc} [{bar}] {i}/{total}")
        else:
            out.write(f"\r{desc} {i}")
        out.flush()

    draw(0)
    i = 0
    for i, item in enumerate(items, start=1):
        yield item
        draw(i)
    if enabled:
        out.write("\n")
        out.flush()
