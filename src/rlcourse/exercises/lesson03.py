"""Checks for lesson 03 — learning on a subsample: sampling next count vectors from uniforms,
the empirical Bellman operator of SUBSAMPLE-Q (Algorithm 1) and the exact operator."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose, exact
from rlcourse.subsample import envs
from rlcourse.subsample import planning as _planning
from rlcourse.subsample.counts import CountSpace
from rlcourse.subsample.planning import count_kernel, subsystem_reward

__all__ = ["q1", "q2", "q3"]


def _with_advice(compare, advice: str):
    """A comparison whose failure message ends with what to look at."""

    def wrapped(got, expected):
        reason = compare(got, expected)
        if reason is None or reason.startswith("wrong shape") or "None" in reason:
            return reason
        return f"{reason}\n  ({advice})"

    return wrapped


def _q1_compare(got, expected):
    reason = exact()(got, expected)
    if reason is None or reason.startswith("wrong shape"):
        return reason
    k = int(np.asarray(expected).sum(axis=-1).ravel()[0])
    if not np.all(np.asarray(got).sum(axis=-1) == k):
        return f"{reason}; your count vectors do not all sum to k = {k} agents"
    return (
        f"{reason}; your count vectors sum to k but differ — does every agent i use its own "
        "uniform u[r, j, i] and the row P_l[x_i, s_g[r], :] of its own state?"
    )


# ---- q1: next count vectors from uniforms ----------------------------------------------------


def next_counts_from_uniforms(
    P_l: np.ndarray, agents: np.ndarray, s_g: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """``c'[r, j, x] = #{i : x_i' = x}`` with ``x_i' = #{y : F(y | agents[r, i], s_g[r]) <=
    u[r, j, i]}`` (the library's :func:`~rlcourse.subsample.next_counts_from_uniforms`)."""
    return _planning.next_counts_from_uniforms(P_l, agents, s_g, u)


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for (S, L), k, m, R, seed in [
        ((2, 2), 1, 1, 1, 31),
        ((2, 3), 3, 4, 5, 32),
        ((3, 4), 5, 7, 6, 33),
        ((2, 5), 8, 3, 10, 34),
    ]:
        P_l = envs.random_mdp(S, 2, L, rng=seed).P_l
        space = CountSpace(k, L)
        rows = rng.integers(0, space.size, R)
        agents = np.asarray(space.agents[rows], dtype=np.int64)
        s_g = rng.integers(0, S, R)
        u = rng.random((R, m, k))
        note = f"R = {R} rows of k = {k} agents, m = {m} samples each, |S_g| = {S}, L = {L}"
        cases.append(Case((P_l, agents, s_g, u), note=note))
    return cases


def _q1_pooled_samples(P_l, agents, s_g, u):
    c = _planning.next_counts_from_uniforms(P_l, agents, s_g, u)
    return c.sum(axis=1)  # counts pooled over the m samples: shape (R, L)


def _q1_one_uniform_per_sample(P_l, agents, s_g, u):
    u_shared = np.repeat(u[:, :, :1], u.shape[2], axis=2)  # all k agents share one uniform
    return _planning.next_counts_from_uniforms(P_l, agents, s_g, u_shared)


def _q1_states_not_counts(P_l, agents, s_g, u):
    cdf = np.cumsum(P_l, axis=-1)
    return (cdf[agents[:, None, :], s_g[:, None, None]] <= u[..., None]).sum(axis=-1)


q1 = Exercise(
    lesson="03",
    id="q1",
    reference=next_counts_from_uniforms,
    cases=_q1_cases,
    compare=_q1_compare,
    hints=[
        "Two steps: move every agent (inverse CDF, as in lesson 01, with the row "
        "P_l[x_i, s_g, :] of its own state and its row's s_g), then count the new states of "
        "each (row, sample) pair — the count vector of lesson 02.",
        "`F = np.cumsum(P_l, axis=-1)`; `F[agents[:, None, :], s_g[:, None, None]]` has shape "
        "(R, 1, k, L) and broadcasts against `u[..., None]` of shape (R, m, k, 1).",
        "`x_next = (F[agents[:, None, :], s_g[:, None, None]] <= u[..., None]).sum(-1)` "
        "(shape (R, m, k)); then `(x_next[..., None] == np.arange(L)).sum(axis=-2)`.",
    ],
    solution_text=(
        "```python\n"
        "def next_counts_from_uniforms(P_l, agents, s_g, u):\n"
        "    L = P_l.shape[0]\n"
        "    F = np.cumsum(P_l, axis=-1)\n"
        "    x_next = (F[agents[:, None, :], s_g[:, None, None]] <= u[..., None]).sum(axis=-1)\n"
        "    return (x_next[..., None] == np.arange(L)).sum(axis=-2)   # (R, m, L)\n"
        "```\n"
        "Each sample is one draw of Σ_x Multinomial(c[x], P_l[x, s_g, ·]). The library's "
        "`sample_next_counts` draws the same law for every (s_g, c) of a count space — moving "
        "the k agents, or for large k splitting each occupied state's agents by conditional "
        "binomials — and returns the ranks of the next count vectors."
    ),
    broken=[_q1_one_uniform_per_sample, _q1_states_not_counts, _q1_pooled_samples],
)


# ---- q2: the empirical Bellman operator ------------------------------------------------------


def sampled_bellman_update(
    Q: np.ndarray, r_k: np.ndarray, next_g: np.ndarray, next_c: np.ndarray, gamma: float
) -> np.ndarray:
    """``Q_{t+1}(s_g, c, a_g) = r_k(s_g, c, a_g) + (γ/m) Σ_j max_a' Q_t(s_g^j, c^j, a')`` with
    ``s_g^j = next_g[s_g, c, a_g, j]`` and ``c^j = next_c[s_g, c, j]`` (the library's
    :func:`~rlcourse.subsample.sampled_bellman_update`)."""
    return _planning.sampled_bellman_update(Q, r_k, next_g, next_c, gamma)


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    settings = [(1, 1, 1, 1, 0.5), (2, 2, 4, 3, 0.9), (3, 2, 6, 5, 0.8), (2, 3, 10, 8, 0.95)]
    for S, A, N, m, gamma in settings:
        Q = rng.normal(size=(S, N, A))
        r_k = rng.normal(size=(S, N, A))
        next_g = rng.integers(0, S, (S, N, A, m))
        next_c = rng.integers(0, N, (S, N, m))
        note = f"|S_g| = {S}, N = {N} count vectors, |A_g| = {A}, m = {m}, γ = {gamma}"
        cases.append(Case((Q, r_k, next_g, next_c, gamma), note=note))
    return cases


def _q2_same_action(Q, r_k, next_g, next_c, gamma):
    a = np.arange(Q.shape[2])[None, None, :, None]
    return r_k + gamma * Q[next_g, next_c[:, :, None, :], a].mean(axis=3)


def _q2_sum_not_mean(Q, r_k, next_g, next_c, gamma):
    V = Q.max(axis=2)
    return r_k + gamma * V[next_g, next_c[:, :, None, :]].sum(axis=3)


def _q2_max_over_counts(Q, r_k, next_g, next_c, gamma):
    V = Q.max(axis=1)  # (S_g, A): max over the wrong axis
    return r_k + gamma * V[next_g, np.minimum(next_c[:, :, None, :], V.shape[1] - 1)].mean(axis=3)


q2 = Exercise(
    lesson="03",
    id="q2",
    reference=sampled_bellman_update,
    cases=_q2_cases,
    compare=_with_advice(
        allclose(rtol=1e-5, atol=1e-6),
        "each sample contributes max over a' of Q(s_g^j, c^j, a') — the best next action, not "
        "the current one — and the m samples are averaged, then scaled by γ",
    ),
    hints=[
        "First V(s_g', c') = max_a' Q(s_g', c', a'), shape (|S_g|, N). Then, for every "
        "(s_g, c, a_g), average V over the m sampled pairs (s_g^j, c^j) and add r_k.",
        "`V[next_g, next_c[:, :, None, :]]` looks up V at all samples at once: next_g has "
        "shape (S_g, N, A, m) and next_c[:, :, None, :] broadcasts to it over the actions.",
        "`V = Q.max(axis=2)`; `return r_k + gamma * V[next_g, next_c[:, :, None, :]].mean(axis=3)`",
    ],
    solution_text=(
        "```python\n"
        "def sampled_bellman_update(Q, r_k, next_g, next_c, gamma):\n"
        "    V = Q.max(axis=2)                                  # (S_g, N)\n"
        "    return r_k + gamma * V[next_g, next_c[:, :, None, :]].mean(axis=3)\n"
        "```\n"
        "One line of fancy indexing: it is the operator T̂_{k,m} of Algorithm 1. The library's "
        "version stores V transposed and works in chunks on threads, for speed on millions of "
        "count vectors."
    ),
    broken=[_q2_same_action, _q2_sum_not_mean, _q2_max_over_counts],
)


# ---- q3: the exact operator ------------------------------------------------------------------


def mean_field_bellman_update(
    Q: np.ndarray, r_k: np.ndarray, K: np.ndarray, P_g: np.ndarray, gamma: float
) -> np.ndarray:
    """``Q'(s_g, c, a) = r_k + γ Σ_{s_g'} P_g[s_g, a, s_g'] Σ_{c'} K[s_g, c, c'] max_a'
    Q(s_g', c', a')`` (the library's :func:`~rlcourse.subsample.mean_field_bellman_update`)."""
    return _planning.mean_field_bellman_update(Q, r_k, K, P_g, gamma)


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    settings = [
        ((1, 1, 2), 1, 0.5, 41),
        ((2, 2, 2), 3, 0.9, 42),
        ((3, 2, 3), 2, 0.8, 43),
        ((2, 3, 3), 4, 0.7, 44),
    ]
    for (S, A, L), k, gamma, seed in settings:
        system = envs.random_mdp(S, A, L, rng=seed)
        space = CountSpace(k, L)
        r_k = subsystem_reward(system.r_g, system.r_l, space.counts)
        K = count_kernel(system.P_l, k)
        Q = rng.normal(size=r_k.shape)
        note = f"|S_g| = {S}, |A_g| = {A}, k = {k}, L = {L} (N = {space.size}), γ = {gamma}"
        cases.append(Case((Q, r_k, K, np.asarray(system.P_g), gamma), note=note))
    return cases


def _q3_kernel_transposed(Q, r_k, K, P_g, gamma):
    return _planning.mean_field_bellman_update(Q, r_k, K.transpose(0, 2, 1), P_g, gamma)


def _q3_next_global_for_locals(Q, r_k, K, P_g, gamma):
    V = Q.max(axis=2)  # (S', N)
    EV = np.einsum("hcd,hd->hc", K, V)  # locals move under the NEXT global state
    return r_k + gamma * np.einsum("gah,hc->gca", P_g, EV)


def _q3_no_gamma(Q, r_k, K, P_g, gamma):
    return _planning.mean_field_bellman_update(Q, r_k, K, P_g, 1.0)


q3 = Exercise(
    lesson="03",
    id="q3",
    reference=mean_field_bellman_update,
    cases=_q3_cases,
    compare=_with_advice(
        allclose(rtol=1e-5, atol=1e-6),
        "K[s_g, c, c'] is indexed by the CURRENT global state and sums over its last axis c'; "
        "P_g[s_g, a, s_g'] sums over s_g'; both multiply V(s_g', c') = max_a' Q(s_g', c', a')",
    ),
    hints=[
        "Same operator as q2 with the sample average replaced by the exact expectation: the "
        "local moves use the CURRENT s_g (K[s_g, c, c']), the global move uses P_g[s_g, a, s_g'], "
        "and they are independent, so the expectation factorises.",
        "With V = Q.max(axis=2) of shape (S_g', N): `K @ V.T` has shape (S_g, N, S_g') and holds "
        "Σ_c' K[s_g, c, c'] V(s_g', c'). Then contract s_g' with P_g[s_g, a, s_g'].",
        "`EV = K @ Q.max(axis=2).T`; `return r_k + gamma * np.einsum('gas,gcs->gca', P_g, EV)`",
    ],
    solution_text=(
        "```python\n"
        "def mean_field_bellman_update(Q, r_k, K, P_g, gamma):\n"
        "    EV = K @ Q.max(axis=2).T                     # (S_g, N, S_g')\n"
        "    return r_k + gamma * np.einsum('gas,gcs->gca', P_g, EV)\n"
        "```\n"
        "Its fixed point is Q*_k; with m samples instead of K and P_g you get q2's T̂_{k,m}."
    ),
    broken=[_q3_kernel_transposed, _q3_next_global_for_locals, _q3_no_gamma],
)
