"""Checks for lesson 01 — the global agent and its many local agents: a simulator step driven
by uniforms, the joint MDP over ``S_g × S_l^n`` and brute-force value iteration on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rlcourse import mdp as tabular
from rlcourse.exercises.framework import Case, Exercise, allclose
from rlcourse.subsample import envs
from rlcourse.subsample.counts import counts_from_states
from rlcourse.subsample.model import GlobalLocalMDP, sample_categorical
from rlcourse.subsample.planning import solve_full, subsystem_reward

__all__ = ["compare_parts", "q1", "q2", "q3"]


def compare_parts(
    names: Sequence[str],
    compares: Sequence[Callable[[Any, Any], str | None]],
    advice: Sequence[str] | None = None,
) -> Callable[[Any, Any], str | None]:
    """Compare a tuple of results part by part; the message names the first wrong part and
    adds that part's ``advice`` (what to look at)."""
    tips = list(advice) if advice is not None else [""] * len(names)

    def compare(got: Any, expected: Any) -> str | None:
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            return f"expected a tuple of {len(names)} values ({', '.join(names)}), got {got!r:.80}"
        for name, cmp, tip, g, e in zip(names, compares, tips, got, expected, strict=True):
            reason = cmp(g, e)
            if reason:
                return f"{name}: {reason}" + (f"\n  ({tip})" if tip else "")
        return None

    return compare


# ---- q1: one step of B systems from given uniforms ------------------------------------------


def step_from_uniforms(
    mdp: GlobalLocalMDP,
    s_g: np.ndarray,
    a_g: np.ndarray,
    s_local: np.ndarray,
    u_g: np.ndarray,
    u_l: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The library's step (:func:`rlcourse.subsample.step`) with its uniforms given:
    ``s_g' = #{y : F_g(y | s_g, a_g) <= u_g}``, ``s_i' = #{y : F_l(y | s_i, s_g) <= u_l[i]}``,
    ``r = r_g(s_g, a_g) + (1/n) Σ_i r_l(s_i, s_g)``."""
    r = mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].mean(axis=1)
    s_g_next = sample_categorical(mdp.cdf_g[s_g, a_g], u_g)
    s_local_next = sample_categorical(mdp.cdf_l[s_local, s_g[:, None]], u_l)
    return s_g_next, s_local_next, r


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for B, n, (S, A, L), seed in [
        (1, 1, (2, 2, 2), 1),
        (3, 4, (2, 2, 3), 2),
        (5, 7, (3, 2, 4), 3),
        (8, 20, (4, 3, 5), 4),
    ]:
        system = envs.random_mdp(S, A, L, rng=seed)
        s_g = rng.integers(0, S, B)
        a_g = rng.integers(0, A, B)
        s_local = rng.integers(0, L, (B, n))
        u_g, u_l = rng.random(B), rng.random((B, n))
        note = f"B = {B} systems of n = {n} agents, |S_g| = {S}, |A_g| = {A}, L = {L}"
        cases.append(Case((system, s_g, a_g, s_local, u_g, u_l), note=note))
    return cases


def _q1_next_global_moves_locals(mdp, s_g, a_g, s_local, u_g, u_l):
    s_g_next = sample_categorical(mdp.cdf_g[s_g, a_g], u_g)
    r = mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].mean(axis=1)
    return s_g_next, sample_categorical(mdp.cdf_l[s_local, s_g_next[:, None]], u_l), r


def _q1_sum_not_mean(mdp, s_g, a_g, s_local, u_g, u_l):
    s_g2, s_l2, r = step_from_uniforms(mdp, s_g, a_g, s_local, u_g, u_l)
    return s_g2, s_l2, mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].sum(axis=1)


def _q1_reward_after_move(mdp, s_g, a_g, s_local, u_g, u_l):
    s_g2, s_l2, _ = step_from_uniforms(mdp, s_g, a_g, s_local, u_g, u_l)
    return s_g2, s_l2, mdp.r_g[s_g2, a_g] + mdp.r_l[s_l2, s_g2[:, None]].mean(axis=1)


q1 = Exercise(
    lesson="01",
    id="q1",
    reference=step_from_uniforms,
    cases=_q1_cases,
    compare=compare_parts(
        ["s_g_next", "s_local_next", "r"],
        [allclose(0, 0), allclose(0, 0), allclose()],
        [
            "the global state moves with row P_g[s_g, a_g, :] and the uniform u_g; the sample "
            "is the number of CDF entries <= u",
            "agent i moves with row P_l[s_i, s_g, :] of the CURRENT global state s_g, "
            "using its own uniform u_l[:, i]",
            "the reward is r_g(s_g, a_g) + (1/n) Σ_i r_l(s_i, s_g), from the state before the move",
        ],
    ),
    hints=[
        "Three pieces, all from the CURRENT state: the reward r_g(s_g, a_g) + mean_i "
        "r_l(s_i, s_g); the next global state from row P_g[s_g, a_g, :]; each agent's next "
        "state from row P_l[s_i, s_g, :] — the current s_g, not the next one.",
        "Inverse CDF: with F = np.cumsum(row), the sample is the number of entries of F that "
        "are <= u. For a batch: `(F <= u[..., None]).sum(axis=-1)`. Fancy indexing gives all "
        "rows at once: `np.cumsum(mdp.P_l, axis=-1)[s_local, s_g[:, None]]` has shape (B, n, L).",
        "```\nF_g = np.cumsum(mdp.P_g, axis=-1)[s_g, a_g]            # (B, |S_g|)\n"
        "F_l = np.cumsum(mdp.P_l, axis=-1)[s_local, s_g[:, None]]  # (B, n, L)\n"
        "r = mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].mean(axis=1)\n"
        "return (F_g <= u_g[:, None]).sum(-1), (F_l <= u_l[..., None]).sum(-1), r\n```",
    ],
    solution_text=(
        "```python\n"
        "def step_from_uniforms(mdp, s_g, a_g, s_local, u_g, u_l):\n"
        "    r = mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].mean(axis=1)\n"
        "    F_g = np.cumsum(mdp.P_g, axis=-1)[s_g, a_g]             # (B, |S_g|)\n"
        "    F_l = np.cumsum(mdp.P_l, axis=-1)[s_local, s_g[:, None]]  # (B, n, L)\n"
        "    s_g_next = (F_g <= u_g[:, None]).sum(axis=-1)\n"
        "    s_local_next = (F_l <= u_l[..., None]).sum(axis=-1)\n"
        "    return s_g_next, s_local_next, r\n"
        "```\n"
        "`s_g[:, None]` broadcasts each system's global state over its n agents. The library's "
        "`step` does exactly this with uniforms it draws itself from `rng` (first B, then B·n)."
    ),
    broken=[_q1_next_global_moves_locals, _q1_sum_not_mean, _q1_reward_after_move],
)


# ---- q2: the joint MDP over S_g x S_l^n ------------------------------------------------------


def joint_mdp(
    P_g: np.ndarray, P_l: np.ndarray, r_g: np.ndarray, r_l: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The n-agent system as one tabular MDP over ``|S_g| L^n`` joint states
    ``j = s_g L^n + Σ_i s_i L^(n-1-i)``:
    ``P[j, a, j'] = P_g[s_g, a, s_g'] Π_i P_l[s_i, s_g, s_i']``,
    ``r[j, a] = r_g[s_g, a] + (1/n) Σ_i r_l(s_i, s_g)``."""
    S_g, A, L = P_g.shape[0], P_g.shape[1], P_l.shape[0]
    tuples = np.indices((L,) * n).reshape(n, -1).T  # (L^n, n), row-major
    # local part: Π_i P_l[s_i, s_g, s_i'] for every (s_g, tuple, tuple')
    P_loc = P_l[tuples[:, None, :], :, tuples[None, :, :]].prod(axis=2)  # (t, t', s_g)
    P = np.einsum("gah,tug->gtahu", P_g, P_loc).reshape(S_g * L**n, A, S_g * L**n)
    r = r_g[:, None, :] + r_l[tuples, :].mean(axis=1).T[:, :, None]  # (S_g, L^n, A)
    return P, r.reshape(S_g * L**n, A)


def _q2_verify(fn: Callable[..., Any], rng: np.random.Generator) -> str | None:
    for (S, A, L, n), seed in zip(
        [(1, 1, 2, 1), (2, 2, 2, 2), (2, 3, 3, 2), (3, 2, 2, 3)], [11, 12, 13, 14], strict=True
    ):
        system = envs.random_mdp(S, A, L, gamma=0.8, rng=seed)
        where = f"(a random system with |S_g| = {S}, |A_g| = {A}, L = {L}, n = {n})"
        out = fn(system.P_g, system.P_l, system.r_g, system.r_l, n)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return f"expected a pair (P, r), got {type(out).__name__} {where}"
        P, r = (np.asarray(x, dtype=float) for x in out)
        J = S * L**n
        if P.shape != (J, A, J):
            return (
                f"P: wrong shape {P.shape}, expected (|S_g| L^n, |A_g|, |S_g| L^n) = {(J, A, J)} "
                f"{where}"
            )
        if r.shape != (J, A):
            return f"r: wrong shape {r.shape}, expected (|S_g| L^n, |A_g|) = {(J, A)} {where}"
        if not np.all(np.isfinite(P)) or P.min() < -1e-12:
            return f"P: has negative or non-finite entries {where}"
        sums = P.sum(axis=2)
        if not np.allclose(sums, 1.0, atol=1e-9):
            bad = np.unravel_index(np.argmax(np.abs(sums - 1)), sums.shape)
            return (
                f"P: row P[{bad[0]}, {bad[1]}, :] sums to {sums[bad]:.6g}, not 1 {where}. "
                "Is every agent's factor P_l[s_i, s_g, s_i'] in the product, and P_g too?"
            )
        tuples = np.indices((L,) * n).reshape(n, -1).T
        r_ref = subsystem_reward(system.r_g, system.r_l, counts_from_states(tuples, L))
        r_ref = r_ref.reshape(J, A)
        if not np.allclose(r, r_ref):
            j, a = np.unravel_index(np.argmax(np.abs(r - r_ref)), r.shape)
            return (
                f"r: r[{j}, {a}] = {r[j, a]:.6g}, expected {r_ref[j, a]:.6g} {where}. The reward "
                "is r_g(s_g, a) + (1/n) Σ_i r_l(s_i, s_g), joint index j = s_g L^n + tuple index."
            )
        two = solve_full(system, n, max_iter=2).q.reshape(J, A)  # r + γ P max_a r
        mine = r + system.gamma * (P @ r.max(axis=1))
        if not np.allclose(mine, two, atol=1e-9):
            j, a = np.unravel_index(np.argmax(np.abs(mine - two)), mine.shape)
            return (
                f"P: one Bellman backup from V = max_a r disagrees with the library's brute force "
                f"at joint state {j}, action {a}: {mine[j, a]:.6g} vs {two[j, a]:.6g} {where}. "
                "Check the order of the joint index (global state first, then s_1..s_n) and "
                "which global state the local agents move under."
            )
        V = tabular.value_iteration(P, r, system.gamma, tol=1e-11).V
        V_ref = solve_full(system, n, tol=1e-11).q.max(axis=2).ravel()
        if not np.allclose(V, V_ref, atol=1e-7):
            return f"the optimal values of your joint MDP differ from the library's {where}"
    return None


def _q2_no_global_factor(P_g, P_l, r_g, r_l, n):
    P, r = joint_mdp(P_g, P_l, r_g, r_l, n)
    S_g, A, L = P_g.shape[0], P_g.shape[1], P_l.shape[0]
    P = P.reshape(S_g, L**n, A, S_g, L**n).sum(axis=3)  # global part dropped ...
    P = np.repeat(P[:, :, :, None, :], S_g, axis=3) / S_g  # ... and spread uniformly
    return P.reshape(S_g * L**n, A, S_g * L**n), r


def _q2_global_last(P_g, P_l, r_g, r_l, n):
    P, r = joint_mdp(P_g, P_l, r_g, r_l, n)
    S_g, A, L = P_g.shape[0], P_g.shape[1], P_l.shape[0]
    P = P.reshape(S_g, L**n, A, S_g, L**n).transpose(1, 0, 2, 4, 3)
    return P.reshape(S_g * L**n, A, S_g * L**n), r.reshape(S_g, L**n, A).transpose(1, 0, 2).reshape(
        -1, A
    )


def _q2_sum_reward(P_g, P_l, r_g, r_l, n):
    P, r = joint_mdp(P_g, P_l, r_g, r_l, n)
    return P, r + (n - 1) * (r - np.repeat(r_g, P_l.shape[0] ** n, axis=0))


q2 = Exercise(
    lesson="01",
    id="q2",
    reference=joint_mdp,
    verify=_q2_verify,
    hints=[
        "List the L^n tuples (s_1, ..., s_n) in row-major order: "
        "`tuples = np.indices((L,) * n).reshape(n, -1).T` (shape (L^n, n)). The joint index is "
        "j = s_g · L^n + (index of the tuple).",
        "The agents move independently given s_g, so the local factor is a product over i: "
        "`P_l[tuples[:, None, :], :, tuples[None, :, :]]` has shape (L^n, L^n, n, |S_g|); "
        "`.prod(axis=2)` gives Π_i P_l[s_i, s_g, s_i'] as (t, t', s_g).",
        "Multiply by the global factor with einsum and flatten: "
        "`np.einsum('gah,tug->gtahu', P_g, P_loc).reshape(S_g * L**n, A, S_g * L**n)`; the "
        "reward is `r_g[:, None, :] + r_l[tuples, :].mean(axis=1).T[:, :, None]`, reshaped to "
        "(S_g * L**n, A).",
    ],
    solution_text=(
        "```python\n"
        "def joint_mdp(P_g, P_l, r_g, r_l, n):\n"
        "    S_g, A, L = P_g.shape[0], P_g.shape[1], P_l.shape[0]\n"
        "    tuples = np.indices((L,) * n).reshape(n, -1).T                 # (L^n, n)\n"
        "    P_loc = P_l[tuples[:, None, :], :, tuples[None, :, :]].prod(axis=2)  # (t, t', s_g)\n"
        "    P = np.einsum('gah,tug->gtahu', P_g, P_loc).reshape(S_g * L**n, A, S_g * L**n)\n"
        "    r = r_g[:, None, :] + r_l[tuples, :].mean(axis=1).T[:, :, None]   # (S_g, L^n, A)\n"
        "    return P, r.reshape(S_g * L**n, A)\n"
        "```\n"
        "The matrix has (|S_g| L^n)^2 |A_g| entries: n = 10 agents with L = 3 and |S_g| = 2 "
        "already need 2 · 59049² · 2 ≈ 1.4e10 numbers — which is the point of the lesson."
    ),
    broken=[_q2_no_global_factor, _q2_global_last, _q2_sum_reward],
)


# ---- q3: brute-force value iteration -----------------------------------------------------------


def brute_force_q(mdp: GlobalLocalMDP, n: int) -> np.ndarray:
    """Optimal ``Q*(s_g, tuple, a_g)`` of the n-agent system by value iteration over the joint
    states, shape ``(|S_g|, L^n, |A_g|)`` (the library's :func:`solve_full`)."""
    return solve_full(mdp, n, tol=1e-11).q


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((envs.toy(L=2, gamma=0.8), 1), note="the toy with L = 2, one agent"),
        Case((envs.toy(L=3, gamma=0.9), 2), note="the toy with L = 3, n = 2"),
        Case((envs.random_mdp(2, 3, 2, gamma=0.7, rng=21), 3), note="a random system, n = 3"),
        Case((envs.random_mdp(3, 2, 3, gamma=0.9, rng=22), 2), note="a random system, n = 2"),
    ]


def _q3_one_sweep(mdp, n):
    return solve_full(mdp, n, max_iter=1).q


def _q3_global_last(mdp, n):
    q = solve_full(mdp, n, tol=1e-11).q
    return q.reshape(mdp.P_l.shape[0] ** n, mdp.n_global, mdp.n_actions)


def _q3_mean_over_actions(mdp, n):
    P, r = joint_mdp(mdp.P_g, mdp.P_l, mdp.r_g, mdp.r_l, n)
    V = np.zeros(P.shape[0])
    for _ in range(400):
        Q = r + mdp.gamma * (P @ V)
        V = Q.mean(axis=1)
    return Q.reshape(mdp.n_global, -1, mdp.n_actions)


q3 = Exercise(
    lesson="01",
    id="q3",
    reference=brute_force_q,
    cases=_q3_cases,
    compare=allclose(rtol=0.0, atol=1e-6),
    hints=[
        "Accurate to 1e-6 means |Q - Q*| <= 1e-6 in every entry. Stop by the error bound, not "
        "by the last change: ||Q_t - Q*|| <= γ/(1-γ) ||Q_t - Q_{t-1}||, so stop when the change "
        "is below (1-γ)/γ · 1e-6 (or simply below 1e-11). A change below 1e-6 is not enough at "
        "γ = 0.9: the error can still be 9e-6.",
        "Build the joint MDP with your `joint_mdp` (q2) from mdp.P_g, mdp.P_l, mdp.r_g, mdp.r_l, "
        "then run value iteration on it as in lesson 00, with γ = mdp.gamma. If q2 is not "
        "correct yet, fix it first.",
        "Value iteration on Q: start from Q = 0, repeat `Q_new = r + gamma * (P @ Q.max(axis=1))` "
        "until `np.max(np.abs(Q_new - Q)) < 1e-11`.",
        "The joint index is s_g · L^n + tuple, so `Q.reshape(mdp.n_global, -1, mdp.n_actions)` "
        "puts the global state first: shape (|S_g|, L^n, |A_g|).",
    ],
    solution_text=(
        "```python\n"
        "def brute_force_q(mdp, n):\n"
        "    P, r = joint_mdp(mdp.P_g, mdp.P_l, mdp.r_g, mdp.r_l, n)\n"
        "    Q = np.zeros_like(r)\n"
        "    while True:\n"
        "        Q_new = r + mdp.gamma * (P @ Q.max(axis=1))\n"
        "        if np.max(np.abs(Q_new - Q)) < 1e-11:\n"
        "            break\n"
        "        Q = Q_new\n"
        "    return Q_new.reshape(mdp.n_global, -1, mdp.n_actions)\n"
        "```\n"
        "The library's `solve_full(mdp, n)` does the same without ever building P: it applies "
        "the agents' transitions one axis at a time."
    ),
    broken=[_q3_one_sweep, _q3_global_last, _q3_mean_over_actions],
)
