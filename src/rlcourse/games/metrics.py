"""Outcome metrics: social welfare, equality, speed, and means with 95% confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlcourse._validate import as_array, check_int, check_open_interval

__all__ = [
    "MeanCI",
    "equality",
    "gini",
    "mean_ci",
    "social_welfare",
    "steps_to_converge",
    "steps_to_fraction",
    "t_quantile_975",
]

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30.
_T975 = np.array(
    [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
     2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
     2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
)  # fmt: skip


def social_welfare(r: np.ndarray) -> np.ndarray:
    """``SW = sum_i r_i`` over the last axis: ``(..., n) -> (...)``."""
    return as_array("r", r, min_ndim=1).sum(axis=-1)


def gini(r: np.ndarray) -> np.ndarray:
    """``Gini = sum_i sum_j |r_i - r_j| / (2 n sum_i r_i)`` over the last axis.

    ``r``: ``(..., n)`` rewards with a positive total; returns ``(...)``. For non-negative
    rewards the value lies in ``[0, (n - 1) / n]``; a negative reward can push it to 1 or
    beyond (``gini([-1, 3]) = 1.0``), so read equality only for non-negative rewards.
    """
    r = as_array("r", r, min_ndim=1)
    total = r.sum(axis=-1)
    if np.any(total <= 0):
        raise ValueError(
            f"r: the Gini coefficient needs a positive total reward, got minimum {total.min():g}"
        )
    n = r.shape[-1]
    diffs = np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2))
    return diffs / (2.0 * n * total)


def equality(r: np.ndarray) -> np.ndarray:
    """Equality ``E = 1 - Gini(r)`` over the last axis: ``(..., n) -> (...)``."""
    return 1.0 - gini(r)


def steps_to_fraction(
    values: np.ndarray, start: float, target: float, frac: float = 0.9
) -> np.ndarray:
    """First step ``t`` with ``(values_t - start) / (target - start) >= frac``.

    ``values``: ``(steps+1, ...)`` (time first), e.g. social welfare with ``start`` = its Nash
    value and ``target`` = its optimum. Returns ``(...)`` ints, ``-1`` where never reached.
    """
    values = as_array("values", values, min_ndim=1)
    frac = check_open_interval("frac", frac, 0.0, 1.0 + 1e-12)
    if not np.isfinite(start) or not np.isfinite(target) or start == target:
        raise ValueError(
            f"start, target: expected two different finite numbers, got {start}, {target}"
        )
    reached = (values - start) / (target - start) >= frac
    first = np.argmax(reached, axis=0)
    return np.where(reached.any(axis=0), first, -1)


def steps_to_converge(
    x: np.ndarray, tol: float = 1e-3, diverged: np.ndarray | None = None
) -> np.ndarray:
    """First step ``t`` from which every later step moves ``x`` by less than ``tol``.

    ``x``: ``(steps+1, batch, d)``; the move of step ``s`` is ``max_k |x_{s+1,k} - x_{s,k}|``.
    Returns ``(batch,)`` ints, ``-1`` where the last step still moves by ``tol`` or more, and
    ``-1`` for every run flagged in ``diverged`` (``(batch,)`` bool, e.g.
    ``Trajectory.diverged``): the trainer freezes such a run, which stops it moving without
    converging.
    """
    x = as_array("x", x, ndim=3)
    if diverged is None:
        diverged = np.zeros(x.shape[1], dtype=bool)
    diverged = np.asarray(diverged)
    if diverged.shape != (x.shape[1],) or diverged.dtype != bool:
        raise ValueError(
            f"diverged: expected a bool array of shape ({x.shape[1]},), "
            f"got {diverged.dtype} of shape {diverged.shape}"
        )
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol: expected a positive number, got {tol}")
    if x.shape[0] == 1:
        return np.where(diverged, -1, 0)
    move = np.abs(np.diff(x, axis=0)).max(axis=-1)  # (steps, batch)
    later_max = np.maximum.accumulate(move[::-1], axis=0)[::-1]  # max over s >= t
    still = later_max >= tol  # (steps, batch)
    # converged at t = number of leading steps that still move by >= tol
    t = still.sum(axis=0)
    return np.where(still[-1] | diverged, -1, t)


def t_quantile_975(df: int) -> float:
    """Student-t quantile ``t_{0.975, df}`` (table up to 30, Cornish-Fisher expansion above)."""
    df = check_int("df", df, low=1)
    if df <= 30:
        return float(_T975[df - 1])
    z = 1.959963984540054
    return float(z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2))


@dataclass(frozen=True)
class MeanCI:
    """Mean with a 95% confidence interval ``mean +- half_width`` over ``n`` runs."""

    mean: np.ndarray
    half_width: np.ndarray
    n: int

    @property
    def low(self) -> np.ndarray:
        return self.mean - self.half_width

    @property
    def high(self) -> np.ndarray:
        return self.mean + self.half_width

    def __str__(self) -> str:
        m, h = np.asarray(self.mean), np.asarray(self.half_width)
        if m.ndim == 0:
            return f"{float(m):.3f} ± {float(h):.3f}"
        return f"{m} ± {h}"


def mean_ci(x: np.ndarray, axis: int = 0) -> MeanCI:
    """Mean over runs along ``axis`` with a Student-t 95% interval ``t s / sqrt(n)``."""
    x = as_array("x", x, min_ndim=1)
    n = x.shape[axis]
    check_int("number of runs", n, low=2)
    s = x.std(axis=axis, ddof=1)
    return MeanCI(x.mean(axis=axis), t_quantile_975(n - 1) * s / np.sqrt(n), n)
