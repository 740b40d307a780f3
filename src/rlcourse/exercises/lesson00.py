"""Checks for lesson 00 — welcome: discounted return, Bellman backup, value iteration."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose
from rlcourse.mdp import bellman_backup, discounted_return, value_iteration

__all__ = ["q1", "q2", "q3"]


def random_mdp(rng: np.random.Generator, S: int, A: int) -> tuple[np.ndarray, np.ndarray]:
    """A random tabular MDP: ``P`` (S, A, S) with rows on the simplex, ``r`` (S, A)."""
    P = rng.dirichlet(np.ones(S), size=(S, A))
    r = rng.normal(size=(S, A))
    return P, r


# ---- q1: discounted return -------------------------------------------------------------------


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([1.0, 2.0, 3.0]), 0.5), note="a 3-step episode, γ = 0.5"),
        Case((np.array([4.0]), 0.9), note="a single reward"),
        Case((rng.normal(size=25), 0.99), note="25 steps, γ = 0.99"),
        Case((rng.normal(size=(4, 10)), 0.8), note="a batch of 4 episodes, shape (4, 10)"),
        Case((rng.normal(size=(2, 3, 7)), 0.3), note="a batch of shape (2, 3, 7)"),
    ]


q1 = Exercise(
    lesson="00",
    id="q1",
    reference=discounted_return,
    cases=_q1_cases,
    hints=[
        "The weight of reward r_t is γ^t, with t starting at 0.",
        "`gamma ** np.arange(T)` gives all the weights at once; T is `rewards.shape[-1]`.",
        "Multiply the rewards by the weights and sum over the last axis: "
        "`(rewards * gamma ** np.arange(rewards.shape[-1])).sum(axis=-1)` — or use `@`.",
    ],
    solution_text=(
        "```python\n"
        "def discounted_return(rewards, gamma):\n"
        "    rewards = np.asarray(rewards, dtype=float)\n"
        "    weights = gamma ** np.arange(rewards.shape[-1])\n"
        "    return rewards @ weights\n"
        "```\n"
        "`@` contracts the last axis of `rewards` with the weights, so a batch of episodes of "
        "shape (..., T) gives returns of shape (...)."
    ),
    broken=[
        lambda rewards, gamma: np.sum(rewards, axis=-1),
        lambda rewards, gamma: rewards @ (gamma ** np.arange(1, np.shape(rewards)[-1] + 1)),
        lambda rewards, gamma: np.sum(np.ravel(rewards) * gamma ** np.arange(np.size(rewards))),
    ],
)


# ---- q2: one Bellman backup ------------------------------------------------------------------


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for S, A, gamma in [(2, 2, 0.9), (3, 2, 0.5), (5, 3, 0.95), (7, 4, 0.99)]:
        P, r = random_mdp(rng, S, A)
        V = rng.normal(size=S)
        cases.append(Case((P, r, V, gamma), note=f"S = {S}, A = {A}, γ = {gamma}"))
    return cases


q2 = Exercise(
    lesson="00",
    id="q2",
    reference=bellman_backup,
    cases=_q2_cases,
    hints=[
        "Q(s, a) = r(s, a) + γ Σ_{s'} P[s, a, s'] V(s'): the sum runs over the LAST axis of P.",
        "`P @ V` multiplies the last axis of P (shape (S, A, S)) with V (shape (S,)) and "
        "gives an (S, A) array of expected next values.",
        "`return r + gamma * (P @ V)`",
    ],
    solution_text=(
        "```python\n"
        "def bellman_backup(P, r, V, gamma):\n"
        "    return r + gamma * (P @ V)\n"
        "```\n"
        "Equivalent: `r + gamma * np.einsum('sap,p->sa', P, V)`."
    ),
    broken=[
        lambda P, r, V, gamma: r + gamma * np.einsum("sap,s->sa", P, V),
        lambda P, r, V, gamma: r + (P @ V),
        lambda P, r, V, gamma: (r + gamma * (P @ V)).max(axis=1),
    ],
)


# ---- q3: value iteration ---------------------------------------------------------------------


def _vi_reference(P: np.ndarray, r: np.ndarray, gamma: float) -> np.ndarray:
    return value_iteration(P, r, gamma, tol=1e-12).V


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for S, A, gamma in [(2, 2, 0.5), (4, 3, 0.9), (6, 2, 0.95)]:
        P, r = random_mdp(rng, S, A)
        cases.append(Case((P, r, gamma), note=f"S = {S}, A = {A}, γ = {gamma}"))
    return cases


def _one_sweep(P: np.ndarray, r: np.ndarray, gamma: float) -> np.ndarray:
    return (r + gamma * (P @ np.zeros(P.shape[0]))).max(axis=1)


def _mean_not_max(P: np.ndarray, r: np.ndarray, gamma: float) -> np.ndarray:
    V = np.zeros(P.shape[0])
    for _ in range(2000):
        V = (r + gamma * (P @ V)).mean(axis=1)
    return V


q3 = Exercise(
    lesson="00",
    id="q3",
    reference=_vi_reference,
    cases=_q3_cases,
    compare=allclose(rtol=1e-6, atol=1e-6),
    hints=[
        "Start from V = 0 and repeat the Bellman backup, keeping the best action: "
        "V ← max_a Q(s, a).",
        "Stop when max_s |V_new(s) − V(s)| is tiny (say 1e-10); γ < 1 makes this happen.",
        "`V = np.zeros(S)`; loop: `Q = r + gamma * (P @ V)`; `V_new = Q.max(axis=1)`; break "
        "when `np.max(np.abs(V_new - V)) < 1e-10`; `V = V_new`.",
    ],
    solution_text=(
        "```python\n"
        "def value_iteration(P, r, gamma):\n"
        "    V = np.zeros(P.shape[0])\n"
        "    while True:\n"
        "        V_new = (r + gamma * (P @ V)).max(axis=1)\n"
        "        if np.max(np.abs(V_new - V)) < 1e-10:\n"
        "            return V_new\n"
        "        V = V_new\n"
        "```\n"
        "The loop is over sweeps, not states: each sweep is one vectorised backup."
    ),
    broken=[_one_sweep, _mean_not_max],
)
