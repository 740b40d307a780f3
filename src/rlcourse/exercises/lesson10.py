"""Checks for lesson 10 — reproducing the paper: equality, confidence intervals, speed."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, exact
from rlcourse.exercises.lesson06 import pair_compare
from rlcourse.games import gini, mean_ci, steps_to_fraction
from rlcourse.games.metrics import t_quantile_975

__all__ = ["q1", "q2", "q3"]


# ---- q1: the Gini coefficient -----------------------------------------------------------------


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([1.5, 1.5]),), note="two equal rewards: Gini 0"),
        Case((np.array([0.75, 1.75]),), note="one contributor, one free rider"),
        Case((rng.uniform(0.1, 3, size=5),), note="five players"),
        Case((rng.uniform(0.1, 3, size=(50, 2)),), note="50 runs of two players, shape (50, 2)"),
        Case((rng.uniform(0.1, 3, size=(4, 6, 3)),), note="shape (4, 6, 3)"),
    ]


def _gini_mean_diff(r: np.ndarray) -> np.ndarray:
    d = np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2))
    return d / (r.shape[-1] * r.sum(-1))


q1 = Exercise(
    lesson="10",
    id="q1",
    reference=gini,
    cases=_q1_cases,
    hints=[
        "Gini = Σ_i Σ_j |r_i − r_j| / (2 n Σ_i r_i), over the LAST axis (players); any leading "
        "axes are runs or steps.",
        "All pairwise differences at once: `r[..., :, None] - r[..., None, :]` has shape "
        "(..., n, n). Take `np.abs`, sum over the last two axes, divide by "
        "`2 * n * r.sum(-1)` with `n = r.shape[-1]`.",
        "`n = r.shape[-1]; d = np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2)); "
        "return d / (2 * n * r.sum(-1))`",
    ],
    solution_text=(
        "```python\n"
        "def gini(r):\n"
        "    n = r.shape[-1]\n"
        "    d = np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2))\n"
        "    return d / (2 * n * r.sum(-1))\n"
        "```\n"
        "Each unordered pair is counted twice in the double sum, hence the 2. Equality is "
        "E = 1 − Gini."
    ),
    broken=[
        _gini_mean_diff,
        lambda r: (
            np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2))
            / (2 * r.shape[-1] * r.mean(-1))
        ),
        lambda r: np.abs(np.diff(r, axis=-1)).sum(-1) / (2 * r.sum(-1)),
        lambda r: np.abs(r[:, None] - r[None, :]).sum(axis=(0, 1)) / (2 * len(r) * r.sum(0)),
    ],
)


# ---- q2: mean and 95% confidence interval -------------------------------------------------------


def _mean_ci95(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ci = mean_ci(x, axis=0)
    return ci.mean, ci.half_width


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([1.0, 2.0, 3.0, 4.0]),), note="4 runs: t quantile 3.182, not 1.96"),
        Case((rng.normal(2.0, 0.5, size=10),), note="10 runs"),
        Case((rng.normal(size=(50, 3)),), note="50 runs of 3 quantities, shape (50, 3)"),
        Case((rng.normal(size=200),), note="200 runs"),
    ]


q2 = Exercise(
    lesson="10",
    id="q2",
    reference=_mean_ci95,
    cases=_q2_cases,
    compare=pair_compare(("mean", "half_width"), rtol=1e-3, atol=1e-9),
    hints=[
        "Over axis 0 (the runs): the mean, and the half-width t · s / √n with s the sample "
        "standard deviation (ddof = 1) and t the 97.5% quantile of Student's t with n − 1 "
        "degrees of freedom.",
        "`t_quantile_975(n - 1)` (imported in the lesson) gives t; `x.std(axis=0, ddof=1)` "
        "gives s. With few runs t is much larger than 1.96 (12.7 for n = 2, 2.26 for n = 10).",
        "`n = x.shape[0]; s = x.std(axis=0, ddof=1); "
        "return x.mean(axis=0), t_quantile_975(n - 1) * s / np.sqrt(n)`",
    ],
    solution_text=(
        "```python\n"
        "def mean_ci95(x):\n"
        "    n = x.shape[0]\n"
        "    s = x.std(axis=0, ddof=1)\n"
        "    return x.mean(axis=0), t_quantile_975(n - 1) * s / np.sqrt(n)\n"
        "```"
    ),
    broken=[
        lambda x: (x.mean(0), 1.96 * x.std(0, ddof=1) / np.sqrt(x.shape[0])),
        lambda x: (x.mean(0), t_quantile_975(x.shape[0] - 1) * x.std(0) / np.sqrt(x.shape[0])),
        lambda x: (x.mean(0), t_quantile_975(x.shape[0] - 1) * x.std(0, ddof=1)),
    ],
)


# ---- q3: steps to a fraction of the way --------------------------------------------------------


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    t = np.arange(101)[:, None]
    rates = rng.uniform(0.02, 0.3, size=(1, 6))
    sw = 3.0 - np.exp(-rates * t)  # from 2 towards 3
    stuck = np.concatenate([sw, 2.0 + 0.5 * (1 - np.exp(-0.1 * t))], axis=1)
    return [
        Case((np.array([2.0, 2.5, 2.85, 2.95, 3.0]), 2.0, 3.0, 0.9), note="one run, 5 steps"),
        Case((sw, 2.0, 3.0, 0.9), note="6 runs (101 steps, 6) that all get there"),
        Case((stuck, 2.0, 3.0, 0.9), note="a run that never reaches 90% must give −1"),
        Case((np.array([[2.0], [2.1], [2.6], [2.9]]), 2.0, 3.0, 0.5), note="frac = 0.5"),
        Case(
            (np.array([[2.0, 2.95], [2.5, 2.97], [2.95, 2.99]]), 2.0, 3.0, 0.9),
            note="run 1 is already 95% of the way at step 0, so its answer is 0, not −1 "
            "(np.argmax also returns 0 when nothing is reached: test reached.any, not argmax == 0)",
        ),
        Case(
            (np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 0.0, 4.0, 0.4),
            note="start 0, target 4: progress is relative, (values − start) / (target − start), "
            "so 1.0 is only 25% of the way",
        ),
        Case(
            (np.array([0.0, 0.25, 0.5, 1.0]), 0.0, 1.0, 0.5),
            note="progress is exactly 0.5 at step 2: reaching frac counts (>=, not >)",
        ),
        Case((3.0 - sw, 1.0, 0.0, 0.8), note="a target below the start (a loss going down)"),
    ]


def _never_as_zero(values: np.ndarray, start: float, target: float, frac: float = 0.9) -> object:
    return np.argmax((values - start) / (target - start) >= frac, axis=0)


def _argmax_zero_as_never(
    values: np.ndarray, start: float, target: float, frac: float = 0.9
) -> object:
    first = np.argmax((values - start) / (target - start) >= frac, axis=0)
    return np.where(first == 0, -1, first)


def _strictly_greater(values: np.ndarray, start: float, target: float, frac: float = 0.9) -> object:
    reached = (values - start) / (target - start) > frac
    return np.where(reached.any(axis=0), np.argmax(reached, axis=0), -1)


def _absolute_progress(
    values: np.ndarray, start: float, target: float, frac: float = 0.9
) -> object:
    reached = np.abs(values - start) >= frac
    return np.where(reached.any(axis=0), np.argmax(reached, axis=0), -1)


def _off_by_one(values: np.ndarray, start: float, target: float, frac: float = 0.9) -> object:
    s = steps_to_fraction(values, start, target, frac)
    return np.where(s >= 0, s + 1, s)


q3 = Exercise(
    lesson="10",
    id="q3",
    reference=steps_to_fraction,
    cases=_q3_cases,
    compare=exact(),
    hints=[
        "Normalise: progress_t = (values_t − start) / (target − start) is 0 at the start and 1 "
        "at the target; you want the first t (axis 0) with progress_t ≥ frac.",
        "`reached = progress >= frac`; `np.argmax(reached, axis=0)` is the first True — but it "
        "is also 0 when there is no True at all. Use `reached.any(axis=0)` to return −1 there.",
        "`reached = (values - start) / (target - start) >= frac`; "
        "`return np.where(reached.any(axis=0), np.argmax(reached, axis=0), -1)`",
    ],
    solution_text=(
        "```python\n"
        "def steps_to_fraction(values, start, target, frac=0.9):\n"
        "    reached = (values - start) / (target - start) >= frac\n"
        "    return np.where(reached.any(axis=0), np.argmax(reached, axis=0), -1)\n"
        "```\n"
        "Dividing by (target − start) makes it work whether the target is above or below the "
        "start."
    ),
    broken=[
        _never_as_zero,
        _argmax_zero_as_never,
        _strictly_greater,
        _absolute_progress,
        _off_by_one,
        lambda values, start, target, frac=0.9: np.where(
            (values >= frac * target).any(axis=0), np.argmax(values >= frac * target, axis=0), -1
        ),
    ],
)
