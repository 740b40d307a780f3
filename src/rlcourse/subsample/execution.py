"""Execution on the real n-agent system (Algorithm 2) and the sampling bound behind it.

At every step: draw a fresh subset Δ of k of the n agents uniformly without replacement,
``c = bincount(s[Δ])``, play ``a_g = π_k(s_g, c)``, collect the reward of all n agents and
move every agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rlcourse._validate import check_int, check_open_interval, make_rng
from rlcourse.subsample.counts import counts_from_states, rank_counts
from rlcourse.subsample.model import GlobalLocalMDP, _states, _step
from rlcourse.subsample.planning import QResult

__all__ = [
    "EvalResult",
    "GlobalPolicy",
    "SubsampledPolicy",
    "draw_subset",
    "dkw_bound",
    "evaluate",
    "subsample_counts",
    "subsample_tv",
]


def draw_subset(n: int, k: int, size: int, rng: np.random.Generator | int) -> np.ndarray:
    """``size`` independent subsets of k of n agents, uniform without replacement:
    ``(size, k)`` distinct indices per row (the k smallest of n uniform keys)."""
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)
    size = check_int("size", size, low=0)
    rng = make_rng(rng)
    keys = rng.random((size, n))
    return np.argsort(keys, axis=1)[:, :k]


def subsample_counts(
    s_local: np.ndarray, k: int, L: int, rng: np.random.Generator | int
) -> np.ndarray:
    """Counts of a fresh k-subset of every system: ``s_local[B, n]`` -> ``c[B, L]`` with
    ``c = bincount(s_local[b, Δ_b], minlength=L)``, ``Δ_b`` drawn without replacement."""
    L = check_int("L", L, low=1)
    s_local = _states("s_local", s_local, L, ndim=2)
    delta = draw_subset(s_local.shape[1], k, s_local.shape[0], rng)
    return counts_from_states(np.take_along_axis(s_local, delta, axis=1), L)


class Policy(Protocol):
    def act(self, s_g: np.ndarray, s_local: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Actions ``a_g[B]`` for ``s_g[B]``, ``s_local[B, n]``."""
        ...


@dataclass(frozen=True)
class SubsampledPolicy:
    """The stochastic policy of Algorithm 2: ``a_g = π_k(s_g, bincount(s[Δ]))`` with a fresh
    Δ of k of the n agents at every call. With ``k = n`` it is the greedy full-information
    policy of ``result``."""

    result: QResult
    n: int
    k: int
    pi: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.result, QResult):
            raise ValueError(f"result: expected a QResult, got {type(self.result).__name__}")
        n = check_int("n", self.n, low=1)
        k = check_int("k", self.k, low=1, high=n)
        if k != self.result.k:
            raise ValueError(f"k: the result was learned with k={self.result.k}, got k={k}")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "pi", self.result.policy)  # greedy table, computed once

    def act(self, s_g: np.ndarray, s_local: np.ndarray, rng: np.random.Generator | int):
        """Batched action ``a_g[B]`` for ``s_g[B]``, ``s_local[B, n]``."""
        pi = self.pi
        s_g = _states("s_g", s_g, pi.shape[0], ndim=1)
        s_local = _states("s_local", s_local, self.result.space.L, ndim=2)
        if s_local.shape != (s_g.shape[0], self.n):
            raise ValueError(
                f"s_local: expected shape ({s_g.shape[0]}, n={self.n}), got {s_local.shape}"
            )
        c = subsample_counts(s_local, self.k, self.result.space.L, rng)
        return pi[s_g, rank_counts(c, self.result.space.table)]


@dataclass(frozen=True)
class GlobalPolicy:
    """A policy that looks at the global state only: ``a_g = pi_g[s_g]`` (e.g. the certified
    optimum of :func:`rlcourse.subsample.planning.certify_global_policy`). Draws no random
    numbers, so it shares the environment noise of :func:`evaluate` with any other policy."""

    pi_g: np.ndarray
    method: str = "global_policy"

    def __post_init__(self) -> None:
        pi_g = np.asarray(self.pi_g)
        if pi_g.ndim != 1 or pi_g.size == 0 or pi_g.dtype.kind not in "iu" or pi_g.min() < 0:
            raise ValueError(f"pi_g: expected a 1-d array of actions, got {pi_g!r}")
        object.__setattr__(self, "pi_g", pi_g.astype(np.intp))

    def act(self, s_g: np.ndarray, s_local: np.ndarray, rng: np.random.Generator | int):
        """``a_g[B] = pi_g[s_g]`` (``s_local`` and ``rng`` unused)."""
        return self.pi_g[_states("s_g", s_g, self.pi_g.shape[0], ndim=1)]


@dataclass(frozen=True)
class EvalResult:
    """Discounted returns ``Σ_t γ^t r_t`` of ``episodes`` runs (reward of all n agents)."""

    returns: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def stderr(self) -> float:
        return float(self.returns.std(ddof=1) / np.sqrt(len(self.returns)))


def evaluate(
    mdp: GlobalLocalMDP,
    policy: Policy,
    *,
    n: int,
    s0: tuple[object, object],
    horizon: int,
    episodes: int,
    rng: np.random.Generator | int,
) -> EvalResult:
    """Monte-Carlo discounted return ``Σ_{t<horizon} γ^t r(s_t, a_t)`` of ``policy`` on the
    n-agent system, batched over episodes, ``r = r_g + (1/n) Σ_i r_l`` over **all** n agents.

    ``s0 = (s_g0, s_local0)`` with ``s_g0`` an int or ``(episodes,)`` and ``s_local0`` of shape
    ``(n,)`` or ``(episodes, n)``. The transitions and the policy use two child streams of
    ``rng``, so with one seed every policy meets the same environment noise (common random
    numbers).
    """
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")
    if not callable(getattr(policy, "act", None)):
        raise ValueError(f"policy: expected an object with .act(s_g, s_local, rng), got {policy!r}")
    n = check_int("n", n, low=1)
    horizon = check_int("horizon", horizon, low=1)
    episodes = check_int("episodes", episodes, low=1)
    rng = make_rng(rng)
    if not isinstance(s0, tuple) or len(s0) != 2:
        raise ValueError(f"s0: expected a pair (s_g0, s_local0), got {type(s0).__name__}")
    s_g = _states("s0[0]", np.broadcast_to(np.asarray(s0[0]), (episodes,)), mdp.n_global)
    s_local0 = np.asarray(s0[1])
    if s_local0.shape not in ((n,), (episodes, n)):
        raise ValueError(
            f"s0[1]: expected local states of shape ({n},) or ({episodes}, {n}), "
            f"got {s_local0.shape}"
        )
    s_local = _states("s0[1]", np.broadcast_to(s_local0, (episodes, n)), mdp.L).copy()
    env_rng, pol_rng = rng.spawn(2)
    total = np.zeros(episodes)
    for t in range(horizon):  # steps of the batch of episodes
        a_g = policy.act(s_g, s_local, pol_rng)
        s_g, s_local, r = _step(mdp, s_g, np.asarray(a_g, dtype=np.intp), s_local, env_rng)
        total += mdp.gamma**t * r
    return EvalResult(total)


def dkw_bound(n: int, k: int, L: int, delta: float) -> float:
    """The specification's DKW-type bound for sampling k of n without replacement:
    ``ε(n, k, L, δ) = sqrt((n - k + 1) / (8 n k) · ln(2 L / δ))``.

    What it controls: with probability ``>= 1 - δ`` over a uniform k-subset Δ,
    **half the largest per-state deviation** ``½ max_x |F_Δ(x) − F_[n](x)| <= ε``
    (Hoeffding–Serfling for each state x, ``P(|F_Δ(x) − F(x)| >= t) <= 2 exp(−2 k n t² /
    (n − k + 1))``, and a union bound over the L states). It does **not** bound the total
    variation ``TV = ½ Σ_x |F_Δ(x) − F(x)|`` in general: with L = 25 the TV exceeds ε (see
    ``tv_vs_k`` and the reproduction report); only ``TV <= L ε`` follows. Zero error needs
    k = n exactly (the finite-population factor ``(n - k + 1)/n``)."""
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)
    L = check_int("L", L, low=1)
    delta = check_open_interval("delta", delta, 0.0, 1.0)
    return float(np.sqrt((n - k + 1) / (8 * n * k) * np.log(2 * L / delta)))


def subsample_tv(
    s_local: np.ndarray,
    k: int,
    L: int,
    *,
    trials: int,
    rng: np.random.Generator | int,
    replace: bool = False,
    metric: str = "tv",
) -> np.ndarray:
    """Distances between the histogram ``F_Δ`` of ``trials`` random k-subsets Δ of one
    population ``s_local[n]`` (drawn without (default) or with replacement) and ``F_[n]``:
    ``metric="tv"``: the total variation ``½ Σ_x |F_Δ(x) − F(x)|``; ``metric="max"``:
    ``½ max_x |F_Δ(x) − F(x)|``, the distance :func:`dkw_bound` controls (without
    replacement, w.p. ``>= 1 − δ``); the TV is not controlled by that bound (it can exceed it
    for large L). Returns ``(trials,)``."""
    if metric not in ("tv", "max"):
        raise ValueError(f"metric: expected 'tv' or 'max', got {metric!r}")
    L = check_int("L", L, low=1)
    s_local = _states("s_local", s_local, L, ndim=1)
    n = s_local.shape[0]
    k = check_int("k", k, low=1, high=n)
    trials = check_int("trials", trials, low=1)
    rng = make_rng(rng)
    if replace:
        idx = rng.integers(0, n, size=(trials, k))
    else:
        idx = draw_subset(n, k, trials, rng)
    F_delta = counts_from_states(s_local[idx], L) / k
    F = np.bincount(s_local, minlength=L) / n
    dev = np.abs(F_delta - F)
    return 0.5 * (dev.sum(axis=1) if metric == "tv" else dev.max(axis=1))
