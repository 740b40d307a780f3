"""Checks for lesson 02 — exchangeability and histograms: count vectors, their ranking and
the k-agent subsystem reward."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, exact
from rlcourse.subsample.counts import CountSpace, binomial_table, counts_from_states, rank_counts
from rlcourse.subsample.planning import subsystem_reward

__all__ = ["q1", "q2", "q3"]


# ---- q1: count vectors -----------------------------------------------------------------------


def count_vectors(states: np.ndarray, L: int) -> np.ndarray:
    """``c[..., x] = #{i : states[..., i] = x}`` for ``states[..., k]`` in ``range(L)``
    (the library's :func:`counts_from_states`)."""
    return counts_from_states(states, L)


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([0, 2, 2, 1, 2]), 3), note="one group of k = 5 agents, L = 3"),
        Case((np.array([1, 1]), 4), note="L = 4 with states 0, 2 and 3 empty"),
        Case((rng.integers(0, 5, (6, 7)), 5), note="a batch of 6 groups of k = 7, L = 5"),
        Case((rng.integers(0, 3, (2, 4, 9)), 4), note="batch shape (2, 4), k = 9, L = 4"),
    ]


def _q1_no_minlength(states, L):
    states = np.asarray(states)
    flat = states.reshape(-1, states.shape[-1])
    out = [np.bincount(row) for row in flat]
    width = max(len(o) for o in out)
    out = np.array([np.pad(o, (0, width - len(o))) for o in out])
    return out.reshape(*states.shape[:-1], width)


def _q1_pooled(states, L):
    states = np.asarray(states)
    c = np.bincount(states.ravel(), minlength=L)
    return np.broadcast_to(c, (*states.shape[:-1], L)).copy()


def _q1_fractions(states, L):
    return counts_from_states(states, L) / np.shape(states)[-1]


q1 = Exercise(
    lesson="02",
    id="q1",
    reference=count_vectors,
    cases=_q1_cases,
    compare=exact(),
    hints=[
        "For one group, `np.bincount(states, minlength=L)` is the count vector. For a batch you "
        "need one count vector per row of the last axis — without a Python loop.",
        "Compare every state with every value: `states[..., None] == np.arange(L)` has shape "
        "(..., k, L); summing over the agents' axis counts them.",
        "`return (states[..., None] == np.arange(L)).sum(axis=-2)`",
    ],
    solution_text=(
        "```python\n"
        "def count_vectors(states, L):\n"
        "    return (np.asarray(states)[..., None] == np.arange(L)).sum(axis=-2)\n"
        "```\n"
        "This builds a (..., k, L) boolean array; the library avoids it with one flat "
        "`np.bincount` over `row * L + state`."
    ),
    broken=[_q1_no_minlength, _q1_pooled, _q1_fractions],
)


# ---- q2: ranking count vectors ---------------------------------------------------------------


def rank_count_vectors(c: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Rank of count vectors ``c[..., L]`` in the order of ``CountSpace(k, L)``:
    ``Σ_i C(x_(i) + i, i + 1)`` over the sorted agents, equivalently
    ``Σ_{x=1}^{L-1} [C(x + P_x, x) − C(x + P_{x−1}, x)]`` with ``P = cumsum(c)``
    (the library's :func:`rank_counts`); ``table[a, b] = C(a, b)``."""
    return rank_counts(np.asarray(c), table)


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, L, note in [
        (3, 2, "all 4 count vectors of k = 3 agents over L = 2 states"),
        (2, 3, "all 6 count vectors of k = 2 agents over L = 3 states"),
        (4, 4, "all 35 count vectors of k = 4, L = 4"),
        (1, 5, "k = 1: the rank is the agent's state"),
    ]:
        space = CountSpace(k, L)
        order = rng.permutation(space.size)
        counts = np.asarray(space.counts, dtype=np.int64)[order]
        cases.append(Case((counts, binomial_table(k + L - 1, max(k, L - 1))), note=note))
    space = CountSpace(7, 6)
    pick = rng.integers(0, space.size, (3, 5))
    counts = np.asarray(space.counts, dtype=np.int64)[pick]
    cases.append(Case((counts, binomial_table(12, 7)), note="a (3, 5) batch, k = 7, L = 6"))
    return cases


def _q2_lexicographic(c, table):
    c = np.asarray(c)
    k = int(c.sum(axis=-1).ravel()[0])
    return (c[..., :-1] * (k + 1) ** np.arange(c.shape[-1] - 1)).sum(axis=-1)


def _q2_counts_not_cumsum(c, table):
    c = np.asarray(c, dtype=np.intp)
    x = np.arange(1, c.shape[-1])
    return (table[x + c[..., 1:], x] - table[x, x]).sum(axis=-1)


def _q2_off_by_one(c, table):
    c = np.asarray(c)
    P = np.cumsum(c, axis=-1)
    x = np.arange(1, c.shape[-1])
    return (table[x + P[..., 1:] - 1, x] - table[x + P[..., :-1] - 1, x]).sum(axis=-1)


def _q2_compare(got, expected):
    reason = exact()(got, expected)
    if reason is None or np.shape(got) != np.shape(expected):
        return reason
    g = np.asarray(got)
    k_L = "range(C(k+L-1, L-1))"
    if g.dtype.kind not in "iu" and not np.all(g == np.round(g)):
        return f"{reason}; ranks are whole numbers — round-off from a float binomial?"
    if g.min() < 0:
        return f"{reason}; some ranks are negative — is P = cumsum(c) used in both terms?"
    lo_hi = f"ranks must lie in {k_L}"
    if len(np.unique(g)) < len(np.unique(expected)):
        return f"{reason}; different count vectors got the same rank ({lo_hi}, one each)"
    return f"{reason}; {lo_hi} in the order of CountSpace(k, L) — compare with the list above"


q2 = Exercise(
    lesson="02",
    id="q2",
    reference=rank_count_vectors,
    cases=_q2_cases,
    compare=_q2_compare,
    hints=[
        "Either route works. (a) Sorted agents: expand c to the sorted states x_(0) <= ... <= "
        "x_(k-1) and sum C(x_(i) + i, i + 1). (b) Counts directly: the agents in state x sit at "
        "sorted positions P_{x-1} .. P_x − 1 (P = cumsum(c), P_{-1} = 0), and the hockey-stick "
        "identity sums their terms to C(x + P_x, x) − C(x + P_{x-1}, x).",
        "For (b): `P = np.cumsum(c, axis=-1)` and `x = np.arange(1, L)`; then "
        "`table[x + P[..., 1:], x]` is C(x + P_x, x) and `table[x + P[..., :-1], x]` is "
        "C(x + P_{x-1}, x) — both of shape (..., L-1). State 0 contributes nothing.",
        "`return (table[x + P[..., 1:], x] - table[x + P[..., :-1], x]).sum(axis=-1)` "
        "with P and x as in hint 2.",
    ],
    solution_text=(
        "```python\n"
        "def rank_count_vectors(c, table):\n"
        "    P = np.cumsum(c, axis=-1)\n"
        "    x = np.arange(1, c.shape[-1])\n"
        "    return (table[x + P[..., 1:], x] - table[x + P[..., :-1], x]).sum(axis=-1)\n"
        "```\n"
        "Agent i of the sorted tuple contributes C(x_(i) + i, i + 1); the agents in state x "
        "occupy positions P_{x-1} .. P_x − 1, and Σ_{i=a}^{b-1} C(x + i, x − 1) = "
        "C(x + b, x) − C(x + a, x) (hockey stick). No dictionary and no search: L − 1 table "
        "look-ups per count vector."
    ),
    broken=[_q2_lexicographic, _q2_counts_not_cumsum, _q2_off_by_one],
)


# ---- q3: the subsystem reward ----------------------------------------------------------------


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for S, A, k, L in [(1, 1, 1, 2), (2, 2, 3, 2), (2, 3, 4, 3), (5, 3, 2, 25)]:
        counts = np.asarray(CountSpace(k, L).counts, dtype=np.int64)
        if len(counts) > 12:
            counts = counts[rng.choice(len(counts), 12, replace=False)]
        r_g, r_l = rng.normal(size=(S, A)), rng.normal(size=(L, S))
        note = f"|S_g| = {S}, |A_g| = {A}, k = {k}, L = {L}, {len(counts)} count vectors"
        cases.append(Case((r_g, r_l, counts), note=note))
    return cases


def _q3_divide_by_L(r_g, r_l, counts):
    return r_g[:, None, :] + (counts @ r_l / counts.shape[1]).T[:, :, None]


def _q3_sum(r_g, r_l, counts):
    k = counts[0].sum()
    return r_g[:, None, :] + k * (counts @ r_l / k).T[:, :, None]


def _q3_wrong_layout(r_g, r_l, counts):
    return subsystem_reward(r_g, r_l, counts).transpose(1, 0, 2)


q3 = Exercise(
    lesson="02",
    id="q3",
    reference=subsystem_reward,
    cases=_q3_cases,
    hints=[
        "r_k(s_g, c, a_g) = r_g(s_g, a_g) + (1/k) Σ_x c[x] r_l(x, s_g): the local part is the "
        "average reward of the k agents, computed from their histogram. k = c.sum() (the same "
        "for every row).",
        "`counts @ r_l` has shape (N, |S_g|): entry [i, s_g] = Σ_x c_i[x] r_l(x, s_g). Divide by "
        "k, then arrange the axes as (|S_g|, N, |A_g|) with broadcasting.",
        "`return r_g[:, None, :] + (counts @ r_l / k).T[:, :, None]` with `k = counts[0].sum()`.",
    ],
    solution_text=(
        "```python\n"
        "def subsystem_reward(r_g, r_l, counts):\n"
        "    k = counts[0].sum()\n"
        "    mean_l = counts @ r_l / k                 # (N, |S_g|)\n"
        "    return r_g[:, None, :] + mean_l.T[:, :, None]  # (|S_g|, N, |A_g|)\n"
        "```\n"
        "Two count vectors with the same histogram get the same reward — exchangeability at "
        "the level of rewards."
    ),
    broken=[_q3_divide_by_L, _q3_sum, _q3_wrong_layout],
)
