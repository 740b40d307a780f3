"""Re-running the papers' experiments end to end: figures and a Markdown report.

This package sits above the algorithm packages (:mod:`rlcourse.subsample`,
:mod:`rlcourse.games`) and :mod:`rlcourse.plots`; the algorithms know nothing of figures.

- :mod:`.subsample` — ``rlcourse reproduce subsample``;
- :mod:`.games` — ``rlcourse reproduce aga``.
"""
