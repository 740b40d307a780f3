"""ipywidgets apps, each a plain function returning a widget.

Every app is a :class:`~rlcourse.widgets.base.App`: a ``VBox`` whose ``controls`` dict holds
its sliders and buttons and whose ``state`` dict holds what it last computed, so a test can
drive it headlessly (set ``.value``, click) and assert on ``state``.
"""

from __future__ import annotations

from rlcourse.widgets import games as _games
from rlcourse.widgets import subsample as _subsample
from rlcourse.widgets.base import App, show_figure
from rlcourse.widgets.basics import discount_explorer
from rlcourse.widgets.games import *  # noqa: F403
from rlcourse.widgets.subsample import *  # noqa: F403

__all__ = ["App", "discount_explorer", "show_figure", *_games.__all__, *_subsample.__all__]
