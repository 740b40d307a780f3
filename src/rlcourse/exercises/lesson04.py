"""Checks for lesson 04 — acting on a fresh subsample (Algorithm 2): drawing subsets without
replacement, the execution step, the sampling-error experiment behind the 1/√k rate, and the
discounted return of one Algorithm 2 rollout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose, exact
from rlcourse.subsample import envs
from rlcourse.subsample import execution as _execution
from rlcourse.subsample.counts import CountSpace, rank_counts
from rlcourse.subsample.execution import subsample_counts
from rlcourse.subsample.model import GlobalLocalMDP, step

__all__ = ["q1", "q2", "q3", "q4"]


# ---- q1: k of n without replacement ----------------------------------------------------------


def draw_subset(n: int, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` independent uniform k-subsets of ``range(n)`` without replacement, shape
    ``(size, k)`` (the library's :func:`~rlcourse.subsample.draw_subset`)."""
    return _execution.draw_subset(n, k, size, rng)


def _q1_verify(fn: Callable[..., Any], rng: np.random.Generator) -> str | None:
    for n, k, size in [(5, 2, 4000), (12, 5, 4000), (30, 30, 200), (9, 1, 4000)]:
        where = f"(n = {n}, k = {k}, size = {size})"
        seed = int(rng.integers(2**31))
        out = fn(n, k, size, np.random.default_rng(seed))
        arr = np.asarray(out)
        if arr.shape != (size, k):
            return f"expected an array of shape (size, k) = {(size, k)}, got {arr.shape} {where}"
        if arr.dtype.kind not in "iu":
            return f"expected integer agent indices, got dtype {arr.dtype} {where}"
        if arr.min() < 0 or arr.max() >= n:
            return f"agent indices must lie in range(n) = range({n}) {where}"
        srt = np.sort(arr, axis=1)
        if np.any(srt[:, 1:] == srt[:, :-1]):
            return (
                f"some subsets contain the same agent twice {where}: that is sampling WITH "
                "replacement. Each row must hold k distinct agents."
            )
        again = np.asarray(fn(n, k, size, np.random.default_rng(seed)))
        if not np.array_equal(arr, again):
            return f"two calls with equal seeds gave different subsets {where}: use only `rng`"
        # every agent is in a subset with probability k/n
        freq = np.bincount(arr.ravel(), minlength=n) / size
        se = np.sqrt((k / n) * (1 - k / n) / size) + 1e-12
        worst = int(np.argmax(np.abs(freq - k / n)))
        if abs(freq[worst] - k / n) > 5 * se + 1e-9:
            return (
                f"agent {worst} is in {freq[worst]:.3f} of the subsets; a uniform k-subset "
                f"contains each agent with probability k/n = {k / n:.3f} {where}. Are the rows "
                "drawn independently, and is every agent equally likely?"
            )
        if k >= 2 and n > k:
            # every pair is together with probability k(k-1)/(n(n-1))
            both = np.mean((arr == 0).any(axis=1) & (arr == 1).any(axis=1))
            p2 = k * (k - 1) / (n * (n - 1))
            if abs(both - p2) > 5 * np.sqrt(p2 * (1 - p2) / size):
                return (
                    f"agents 0 and 1 are together in {both:.3f} of the subsets, expected "
                    f"k(k-1)/(n(n-1)) = {p2:.3f} {where}: the k agents are not a uniform subset"
                )
    return None


def _q1_with_replacement(n, k, size, rng):
    return rng.integers(0, n, size=(size, k))


def _q1_one_permutation(n, k, size, rng):
    return np.tile(rng.permutation(n)[:k], (size, 1))


def _q1_consecutive_block(n, k, size, rng):
    start = rng.integers(0, n, size)
    return (start[:, None] + np.arange(k)) % n  # k neighbours: not a uniform subset


q1 = Exercise(
    lesson="04",
    id="q1",
    reference=draw_subset,
    verify=_q1_verify,
    hints=[
        "A uniform k-subset without replacement: shuffle the n agents and keep the first k. "
        "You need `size` independent shuffles, without a Python loop.",
        "Give each of the n agents a random key, `rng.random((size, n))`; the k agents with the "
        "smallest keys form a uniform k-subset (all orders of the keys are equally likely).",
        "`return np.argsort(rng.random((size, n)), axis=1)[:, :k]`",
    ],
    solution_text=(
        "```python\n"
        "def draw_subset(n, k, size, rng):\n"
        "    keys = rng.random((size, n))\n"
        "    return np.argsort(keys, axis=1)[:, :k]\n"
        "```\n"
        "The ranks of n i.i.d. uniform keys form a uniformly random permutation, so the first k "
        "positions are a uniform k-subset. `rng.integers(0, n, (size, k))` would sample WITH "
        "replacement: the same agent can be counted twice. (`np.argpartition(keys, k-1)` is "
        "faster for large n.)"
    ),
    broken=[_q1_with_replacement, _q1_one_permutation, _q1_consecutive_block],
)


# ---- q2: one execution step of Algorithm 2 ---------------------------------------------------


def subsampled_action(
    policy: np.ndarray,
    space: CountSpace,
    s_g: np.ndarray,
    s_local: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Algorithm 2, one step for B systems: ``Δ_b = draw_subset(n, k, B, rng)[b]``,
    ``c_b = bincount(s_local[b, Δ_b], minlength=L)``, ``a_g[b] = policy[s_g[b], index(c_b)]``."""
    c = subsample_counts(s_local, space.k, space.L, rng)
    return policy[s_g, rank_counts(c, space.table)]


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    settings = [(1, 3, 1, 2, 2, 2), (5, 10, 4, 3, 2, 3), (8, 30, 6, 4, 3, 2), (6, 12, 12, 3, 2, 2)]
    for B, n, k, L, S, A in settings:
        space = CountSpace(k, L)
        policy = rng.integers(0, A, (S, space.size))
        s_g = rng.integers(0, S, B)
        s_local = rng.integers(0, L, (B, n))
        gen = np.random.default_rng(int(rng.integers(2**31)))
        note = f"B = {B} systems of n = {n} agents, k = {k}, L = {L}, |S_g| = {S}"
        if k == n:
            note += " (k = n: the subset is everybody)"
        cases.append(Case((policy, space, s_g, s_local, gen), note=note))
    return cases


def _q2_compare(got: Any, expected: Any) -> str | None:
    reason = exact()(got, expected)
    if reason is None or reason.startswith("wrong shape"):
        return reason
    return (
        f"{reason}. Check: ONE call `draw_subset(n, space.k, B, rng)` (a fresh subset per "
        "system, same random numbers as the check), the counts of the SAMPLED agents only, "
        "ranked with `space.index`, then `policy[s_g, rank]`"
    )


def _q2_first_k(policy, space, s_g, s_local, rng):
    c = (s_local[:, : space.k, None] == np.arange(space.L)).sum(axis=1)
    return policy[s_g, rank_counts(c, space.table)]


def _q2_with_replacement(policy, space, s_g, s_local, rng):
    B, n = s_local.shape
    idx = rng.integers(0, n, size=(B, space.k))
    c = (np.take_along_axis(s_local, idx, axis=1)[..., None] == np.arange(space.L)).sum(axis=1)
    return policy[s_g, rank_counts(c, space.table)]


def _q2_one_subset_for_all(policy, space, s_g, s_local, rng):
    B, n = s_local.shape
    delta = _execution.draw_subset(n, space.k, 1, rng)[0]
    c = (s_local[:, delta, None] == np.arange(space.L)).sum(axis=1)
    return policy[s_g, rank_counts(c, space.table)]


q2 = Exercise(
    lesson="04",
    id="q2",
    reference=subsampled_action,
    cases=_q2_cases,
    compare=lambda got, expected: _q2_compare(got, expected),
    hints=[
        "Three steps per system: draw k of its n agents (one call `draw_subset(n, k, B, rng)` "
        "gives one row per system — call it exactly once, so your random numbers match the "
        "check's), count their states (lesson 02), rank the count vector and look up "
        "`policy[s_g, rank]`.",
        "`delta = draw_subset(n, space.k, B, rng)`; `np.take_along_axis(s_local, delta, axis=1)` "
        "gives the sampled states, shape (B, k); `counts_from_states(..., space.L)` counts them "
        "and `space.index(c)` ranks them.",
        "```\nB, n = s_local.shape\ndelta = draw_subset(n, space.k, B, rng)\n"
        "c = counts_from_states(np.take_along_axis(s_local, delta, axis=1), space.L)\n"
        "return policy[s_g, space.index(c)]\n```",
    ],
    solution_text=(
        "```python\n"
        "def subsampled_action(policy, space, s_g, s_local, rng):\n"
        "    B, n = s_local.shape\n"
        "    delta = draw_subset(n, space.k, B, rng)                  # (B, k), fresh each call\n"
        "    sampled = np.take_along_axis(s_local, delta, axis=1)     # (B, k)\n"
        "    c = counts_from_states(sampled, space.L)                 # (B, L)\n"
        "    return policy[s_g, space.index(c)]\n"
        "```\n"
        "A fresh subset at every step and for every system: the induced policy on the n-agent "
        "system is stochastic. With k = n the subset is everybody and the action deterministic."
    ),
    broken=[_q2_first_k, _q2_with_replacement, _q2_one_subset_for_all],
)


# ---- q3: the sampling error of a subsample ---------------------------------------------------


def subsample_tv(
    s_local: np.ndarray,
    k: int,
    L: int,
    trials: int,
    rng: np.random.Generator,
    replace: bool = False,
) -> np.ndarray:
    """``TV(F_Δ, F_[n]) = ½ Σ_x |F_Δ(x) − F_[n](x)|`` for ``trials`` random k-subsets Δ of the
    population ``s_local[n]``; Δ from ``draw_subset(n, k, trials, rng)`` (without replacement)
    or ``rng.integers(0, n, (trials, k))`` (with). The library's
    :func:`~rlcourse.subsample.subsample_tv`."""
    return _execution.subsample_tv(s_local, k, L, trials=trials, rng=rng, replace=replace)


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    settings = [
        (6, 2, 2, 5, False),
        (20, 5, 3, 50, False),
        (20, 5, 3, 50, True),
        (40, 40, 4, 10, False),
        (40, 40, 4, 10, True),
        (100, 17, 6, 200, False),
        (12, 4, 4, 20, False),  # the population below misses the top state L - 1
    ]
    for i, (n, k, L, trials, replace) in enumerate(settings):
        top_missing = i == len(settings) - 1
        pop = rng.integers(0, L - 1 if top_missing else L, n)
        gen = np.random.default_rng(int(rng.integers(2**31)))
        how = "with" if replace else "without"
        note = f"n = {n}, k = {k}, L = {L}, {trials} trials, {how} replacement"
        if top_missing:
            note += f" (no agent is in state {L - 1}: counts need minlength=L)"
        cases.append(Case((pop, k, L, trials, gen, replace), note=note))
    return cases


def _q3_compare(got: Any, expected: Any) -> str | None:
    reason = allclose(rtol=1e-9, atol=1e-12)(got, expected)
    if reason is None or reason.startswith("wrong shape") or got is None:
        return reason
    g, e = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if np.allclose(g, 2 * e):
        return f"{reason} — exactly twice the expected values: TV = ½ Σ_x |F_Δ(x) − F(x)|"
    return (
        f"{reason}. Check: F_Δ = counts of the sampled agents / k, F = population counts / n, "
        "and the subsets drawn with ONE call as the docstring says (replace decides which)"
    )


def _q3_no_half(s_local, k, L, trials, rng, replace=False):
    return 2 * subsample_tv(s_local, k, L, trials, rng, replace)


def _q3_ignores_replace(s_local, k, L, trials, rng, replace=False):
    return subsample_tv(s_local, k, L, trials, rng, False)


def _q3_divide_by_n(s_local, k, L, trials, rng, replace=False):
    n = len(s_local)
    idx = (
        rng.integers(0, n, size=(trials, k))
        if replace
        else _execution.draw_subset(n, k, trials, rng)
    )
    F_delta = (s_local[idx][..., None] == np.arange(L)).sum(axis=1) / n
    F = np.bincount(s_local, minlength=L) / n
    return 0.5 * np.abs(F_delta - F).sum(axis=1)


def _q3_bincount_no_minlength(s_local, k, L, trials, rng, replace=False):
    n = len(s_local)
    idx = (
        rng.integers(0, n, size=(trials, k))
        if replace
        else _execution.draw_subset(n, k, trials, rng)
    )
    F_delta = (s_local[idx][..., None] == np.arange(L)).sum(axis=1) / k
    F = np.bincount(s_local) / n  # length max(s_local) + 1, not L
    return 0.5 * np.abs(F_delta - F).sum(axis=1)


q3 = Exercise(
    lesson="04",
    id="q3",
    reference=subsample_tv,
    cases=_q3_cases,
    compare=lambda got, expected: _q3_compare(got, expected),
    hints=[
        "Per trial: draw the k agents (ONE call for all trials, as the docstring says, so the "
        "random numbers match), build their empirical distribution F_Δ = counts / k and compare "
        "it with the population's F = bincount(s_local, minlength=L) / n.",
        "`idx = rng.integers(0, n, size=(trials, k)) if replace else draw_subset(n, k, trials, "
        "rng)`; `s_local[idx]` has shape (trials, k); count with `counts_from_states` and divide "
        "by k.",
        "`return 0.5 * np.abs(counts_from_states(s_local[idx], L) / k - F).sum(axis=1)` with "
        "`F = np.bincount(s_local, minlength=L) / n`.",
    ],
    solution_text=(
        "```python\n"
        "def subsample_tv(s_local, k, L, trials, rng, replace=False):\n"
        "    n = len(s_local)\n"
        "    if replace:\n"
        "        idx = rng.integers(0, n, size=(trials, k))\n"
        "    else:\n"
        "        idx = draw_subset(n, k, trials, rng)\n"
        "    F_delta = counts_from_states(s_local[idx], L) / k      # (trials, L)\n"
        "    F = np.bincount(s_local, minlength=L) / n               # (L,)\n"
        "    return 0.5 * np.abs(F_delta - F).sum(axis=1)\n"
        "```\n"
        "Without replacement and k = n every trial returns exactly 0; with replacement it does "
        "not — the finite-population effect."
    ),
    broken=[_q3_no_half, _q3_ignores_replace, _q3_divide_by_n, _q3_bincount_no_minlength],
)


# ---- q4: the discounted return of one Algorithm 2 rollout ------------------------------------


def rollout_return(
    mdp: GlobalLocalMDP,
    policy: np.ndarray,
    space: CountSpace,
    s_g: int,
    s_local: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
) -> float:
    """One episode of Algorithm 2 on the n agents ``s_local[n]``: for ``t < horizon`` draw a
    fresh subset ``Δ_t = draw_subset(n, k, 1, rng)[0]``, ``c = bincount(s[Δ_t], minlength=L)``,
    ``a = policy[s_g, index(c)]``, add ``γ^t r_t`` with
    ``r_t = r_g(s_g, a) + (1/n) Σ_{i=1}^{n} r_l(s_i, s_g)`` (all n agents), then move everybody
    with ``step(mdp, [s_g], [a], [s_local], rng)``. Returns ``Σ_{t<horizon} γ^t r_t``."""
    s_local = np.asarray(s_local)
    n = s_local.shape[0]
    total = 0.0
    for t in range(horizon):  # steps of the episode
        delta = _execution.draw_subset(n, space.k, 1, rng)[0]
        c = np.bincount(s_local[delta], minlength=space.L)
        a = int(policy[s_g, space.index(c)])
        total += mdp.gamma**t * (mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean())
        g, sl, _ = step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)
        s_g, s_local = int(g[0]), sl[0]
    return float(total)


def _q4_cases(rng: np.random.Generator) -> list[Case]:
    systems = [
        (envs.queueing(), 10, 2, 30, "queueing, n = 10, k = 2"),
        (envs.toy(L=3, gamma=0.8), 6, 3, 20, "the toy (L = 3), n = 6, k = 3"),
        (envs.random_mdp(3, 2, 4, gamma=0.7, rng=41), 8, 1, 15, "a random system, n = 8, k = 1"),
        (envs.random_mdp(2, 3, 3, gamma=0.9, rng=42), 5, 5, 10, "a random system, k = n = 5"),
    ]
    cases = []
    for mdp, n, k, horizon, note in systems:
        space = CountSpace(k, mdp.L)
        policy = rng.integers(0, mdp.n_actions, (mdp.n_global, space.size))
        s_g = int(rng.integers(0, mdp.n_global))
        s_local = rng.integers(0, mdp.L, n)
        gen = np.random.default_rng(int(rng.integers(2**31)))
        cases.append(Case((mdp, policy, space, s_g, s_local, horizon, gen), note=note))
    return cases


def _q4_compare(got: Any, expected: Any) -> str | None:
    if isinstance(got, np.ndarray) and got.size == 1:
        got = got.item()
    if not isinstance(got, (int, float, np.floating, np.integer)):
        return f"expected one number (the discounted return), got {type(got).__name__}"
    if np.isclose(float(got), expected, rtol=1e-9, atol=1e-9):
        return None
    return (
        f"got {float(got):.6g}, expected {expected:.6g}. Check: the reward averages r_l over ALL "
        "n agents (not the k sampled ones), it is discounted by γ^t from t = 0, and a fresh "
        "subset is drawn at every step, before the move (random numbers: draw_subset, then step)"
    )


def _q4_k_average(mdp, policy, space, s_g, s_local, horizon, rng):
    n, total = len(s_local), 0.0
    for t in range(horizon):
        delta = _execution.draw_subset(n, space.k, 1, rng)[0]
        a = int(policy[s_g, space.index(np.bincount(s_local[delta], minlength=space.L))])
        total += mdp.gamma**t * (mdp.r_g[s_g, a] + mdp.r_l[s_local[delta], s_g].mean())
        g, sl, _ = step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)
        s_g, s_local = int(g[0]), sl[0]
    return total


def _q4_no_discount(mdp, policy, space, s_g, s_local, horizon, rng):
    n, total = len(s_local), 0.0
    for _ in range(horizon):
        delta = _execution.draw_subset(n, space.k, 1, rng)[0]
        a = int(policy[s_g, space.index(np.bincount(s_local[delta], minlength=space.L))])
        total += mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean()
        g, sl, _ = step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)
        s_g, s_local = int(g[0]), sl[0]
    return total


def _q4_discount_from_one(mdp, policy, space, s_g, s_local, horizon, rng):
    return mdp.gamma * rollout_return(mdp, policy, space, s_g, s_local, horizon, rng)


def _q4_reused_subset(mdp, policy, space, s_g, s_local, horizon, rng):
    n, total = len(s_local), 0.0
    delta = _execution.draw_subset(n, space.k, 1, rng)[0]  # drawn once, kept
    for t in range(horizon):
        a = int(policy[s_g, space.index(np.bincount(s_local[delta], minlength=space.L))])
        total += mdp.gamma**t * (mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean())
        g, sl, _ = step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)
        s_g, s_local = int(g[0]), sl[0]
    return total


q4 = Exercise(
    lesson="04",
    id="q4",
    reference=rollout_return,
    cases=_q4_cases,
    compare=lambda got, expected: _q4_compare(got, expected),
    hints=[
        "A loop over t (steps are sequential); inside it, in this order: draw a fresh subset "
        "with `ss.draw_subset(n, space.k, 1, rng)[0]`, count and rank it, pick the action, add "
        "the discounted reward, move everybody with `ss.step`.",
        "The reward is the system's, not the sample's: "
        "`mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean()` over all n agents, weighted by "
        "`mdp.gamma ** t` with t = 0 at the first step.",
        "```\nfor t in range(horizon):\n"
        "    delta = ss.draw_subset(n, space.k, 1, rng)[0]\n"
        "    a = int(policy[s_g, space.index(np.bincount(s_local[delta], minlength=space.L))])\n"
        "    total += mdp.gamma ** t * (mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean())\n"
        "    g, sl, _ = ss.step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)\n"
        "    s_g, s_local = int(g[0]), sl[0]\n```",
    ],
    solution_text=(
        "```python\n"
        "def rollout_return(mdp, policy, space, s_g, s_local, horizon, rng):\n"
        "    n, total = len(s_local), 0.0\n"
        "    for t in range(horizon):\n"
        "        delta = ss.draw_subset(n, space.k, 1, rng)[0]          # fresh every step\n"
        "        c = np.bincount(s_local[delta], minlength=space.L)\n"
        "        a = int(policy[s_g, space.index(c)])\n"
        "        r = mdp.r_g[s_g, a] + mdp.r_l[s_local, s_g].mean()      # all n agents\n"
        "        total += mdp.gamma ** t * r                              # γ^t from t = 0\n"
        "        g, sl, _ = ss.step(mdp, np.array([s_g]), np.array([a]), s_local[None, :], rng)\n"
        "        s_g, s_local = int(g[0]), sl[0]\n"
        "    return total\n"
        "```\n"
        "The policy looks at k agents; the reward is paid for all n. The library's `evaluate` "
        "runs a batch of such episodes at once."
    ),
    broken=[_q4_k_average, _q4_no_discount, _q4_discount_from_one, _q4_reused_subset],
)
