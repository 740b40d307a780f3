"""Matplotlib figures shared by the notebooks and the CLI.

Each half of the course keeps its figures in its own module; they are re-exported here so
that notebooks can write ``from rlcourse import plots; plots.gap_vs_k(...)``.
"""

from __future__ import annotations

from rlcourse.plots.games import *  # noqa: F403
from rlcourse.plots.subsample import *  # noqa: F403
