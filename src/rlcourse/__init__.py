"""rlcourse — a Jupyter-first course on SUBSAMPLE-Q and altruistic gradient adjustment.

Subpackages:

* :mod:`rlcourse.subsample` — SUBSAMPLE-Q (Anand & Qu, arXiv 2403.00222).
* :mod:`rlcourse.games` — differentiable games and AgA (Li et al., arXiv 2402.12416).
* :mod:`rlcourse.exercises` — the check framework and one module per lesson.
"""

__version__ = "0.1.0"
