"""Single-agent tabular MDP basics used by the welcome lesson: returns and Bellman backups.

Arrays follow the course's convention ``P[s, a, s']``, ``r[s, a]``, ``V[s]``, ``Q[s, a]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlcourse._validate import (
    as_array,
    check_int,
    check_open_interval,
    check_positive,
    check_stochastic,
)

__all__ = ["ValueIterationResult", "bellman_backup", "discounted_return", "value_iteration"]


def discounted_return(rewards: np.ndarray, gamma: float) -> np.ndarray | float:
    r"""Discounted return :math:`G = \sum_{t=0}^{T-1} \gamma^t r_t` over the last axis.

    ``rewards`` has shape ``(..., T)``; the result has shape ``(...)`` (a float for 1-d input).
    """
    r = as_array("rewards", rewards, min_ndim=1)
    g = check_positive("gamma", gamma, allow_zero=True)
    if g > 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1], got {g}")
    G = r @ (g ** np.arange(r.shape[-1]))
    return float(G) if np.ndim(G) == 0 else G


def _check_mdp(P: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    P = as_array("P", P, ndim=3)
    S, A, S2 = P.shape
    if S != S2:
        raise ValueError(f"P: expected shape (S, A, S), got {P.shape}")
    check_stochastic("P", P, axis=-1)
    r = as_array("r", r, shape=(S, A))
    return P, r


def bellman_backup(P: np.ndarray, r: np.ndarray, V: np.ndarray, gamma: float) -> np.ndarray:
    r"""One Bellman backup :math:`Q(s,a) = r(s,a) + \gamma \sum_{s'} P(s'|s,a)\, V(s')`.

    ``P`` is ``(S, A, S)``, ``r`` is ``(S, A)``, ``V`` is ``(S,)``; returns ``Q`` of shape
    ``(S, A)``.
    """
    P, r = _check_mdp(P, r)
    V = as_array("V", V, shape=(P.shape[0],))
    g = check_open_interval("gamma", gamma, 0.0, 1.0)
    return r + g * (P @ V)


@dataclass(frozen=True)
class ValueIterationResult:
    """Optimal values ``V`` (S,), action values ``Q`` (S, A), greedy ``policy`` (S,)."""

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float


def value_iteration(
    P: np.ndarray, r: np.ndarray, gamma: float, *, tol: float = 1e-10, max_iter: int = 10_000
) -> ValueIterationResult:
    r"""Iterate :math:`V \leftarrow \max_a [r + \gamma P V]` until
    :math:`\|V_{t+1} - V_t\|_\infty \le \text{tol}`."""
    P, r = _check_mdp(P, r)
    g = check_open_interval("gamma", gamma, 0.0, 1.0)
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    V = np.zeros(P.shape[0])
    residual = np.inf
    iterations = 0
    while iterations < max_iter and residual > tol:
        V_new = (r + g * (P @ V)).max(axis=1)
        residual = float(np.max(np.abs(V_new - V)))
        V = V_new
        iterations += 1
    Q = r + g * (P @ V)
    return ValueIterationResult(V, Q, Q.argmax(axis=1), iterations, residual)
