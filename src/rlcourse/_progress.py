"""Progress bars for long loops, drawn by tqdm.

In a notebook the bar is tqdm's widget (``tqdm.auto``); in a terminal it is tqdm's text bar on
stderr; when the output is not a terminal (redirected to a file, piped, captured by CI) nothing
is drawn, so logs do not fill with redraws.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

__all__ = ["progress"]


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a widget)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    stream: TextIO | None = None,
    width: int | None = None,
) -> Iterator[T]:
    """Yield from ``items`` with a progress bar ``desc  40%|####      | 4/10``.

    ``enabled=False`` draws nothing. The bar goes to ``stream`` (default stderr) and is drawn
    only when that is a terminal, or as a widget in a notebook; ``width`` is the bar's total
    width in characters (default: the terminal's).
    """
    out = sys.stderr if stream is None else stream
    notebook = stream is None and _in_notebook()
    if notebook:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    show = enabled and (notebook or _is_terminal(out))
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = tqdm(
        items,
        total=total,
        desc=desc,
        disable=not show,
        file=None if notebook else out,
        ncols=width,
        leave=True,
        dynamic_ncols=width is None and not notebook,
    )
    try:
        yield from bar
    finally:
        bar.close()
