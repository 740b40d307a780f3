"""The common shape of the course's widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

__all__ = ["App", "show_figure"]


class App(W.VBox):
    """A ``VBox`` with ``controls`` (name → widget) and ``state`` (what was last computed).

    ``update`` is called with no argument whenever a control changes; it fills ``state`` and
    redraws the ``output`` area.
    """

    def __init__(
        self,
        controls: dict[str, W.Widget],
        update: Callable[[App], None],
        *,
        title: str = "",
        layout_rows: list[list[str]] | None = None,
        extra: list[W.Widget] | None = None,
    ) -> None:
        self.controls = controls
        self.state: dict[str, Any] = {}
        self.output = W.Output()
        self._update = update
        rows = layout_rows or [[name] for name in controls]
        boxes: list[W.Widget] = []
        if title:
            boxes.append(W.HTML(f"<b>{title}</b>"))
        boxes.extend(W.HBox([controls[n] for n in row]) for row in rows)
        boxes.extend(extra or [])
        boxes.append(self.output)
        super().__init__(boxes)
        for ctrl in controls.values():
            if isinstance(ctrl, W.Button):
                ctrl.on_click(lambda _b: self.refresh())
            elif hasattr(ctrl, "value"):
                ctrl.observe(lambda _c: self.refresh(), names="value")
        self.refresh()

    def refresh(self) -> None:
        """Recompute and redraw."""
        self._update(self)


def show_figure(app: App, fig: plt.Figure) -> None:
    """Draw ``fig`` in the app's output area (replacing what was there) and close it."""
    app.state["figure"] = fig
    from IPython import get_ipython

    if get_ipython() is None:  # headless (tests, scripts): keep the figure in state only
        plt.close(fig)
        return
    with app.output:
        app.output.clear_output(wait=True)
        display(fig)
    plt.close(fig)
