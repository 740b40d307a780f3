"""The exact gap decomposition: parts vs an independent brute force on the joint state space."""

from itertools import combinations, product

import numpy as np
import pytest

from rlcourse.subsample import envs, solve_full, solve_mean_field, subsample_q
from rlcourse.subsample.counts import CountSpace
from rlcourse.subsample.decomposition import (
    decompose_gap,
    evaluate_on_counts,
    execution_value,
    optimal_on_counts,
    same_histogram_mismatch,
    subset_count_law,
)

# ----------------------------------------------------------------------------- brute force


def _joint(mdp, n):
    """Tuples (L^n, n), local kernel Pt[g, t, t'] and local mean reward rl[g, t]."""
    L = mdp.L
    tuples = np.indices((L,) * n).reshape(n, -1).T
    Pt = np.ones((mdp.n_global, len(tuples), len(tuples)))
    for i in range(n):  # agents move independently given s_g
        Pt *= mdp.P_l[tuples[:, i][:, None], :, tuples[:, i][None, :]].transpose(2, 0, 1)
    rl = mdp.r_l[tuples, :].mean(axis=1).T  # (S_g, L^n)
    return tuples, Pt, rl


def _joint_value(mdp, n, pi):
    """V of a stochastic joint policy pi[g, t, a] by one dense solve over S_g × S_l^n."""
    tuples, Pt, rl = _joint(mdp, n)
    S, T = mdp.n_global, len(tuples)
    r = np.sum(pi * (mdp.r_g[:, None, :] + rl[:, :, None]), axis=2).ravel()
    Pg = np.einsum("gta,gas->gts", pi, mdp.P_g)
    P = (Pg[:, :, :, None] * Pt[:, :, None, :]).reshape(S * T, S * T)
    return np.linalg.solve(np.eye(S * T) - mdp.gamma * P, r).reshape(S, T)


def _joint_alg2(mdp, n, k, policy_k, subsets):
    """Algorithm 2's action law on every joint state, by enumerating the subsets."""
    tuples, _, _ = _joint(mdp, n)
    sk = CountSpace(k, mdp.L)
    if subsets == "fresh":
        draws = [list(d) for d in combinations(range(n), k)]
    else:  # with replacement: all n^k ordered index tuples
        draws = [list(d) for d in product(range(n), repeat=k)]
    pi = np.zeros((mdp.n_global, len(tuples), mdp.n_actions))
    for d in draws:  # every subset, equally likely
        c = np.stack([np.bincount(t[d], minlength=mdp.L) for t in tuples])
        a = policy_k[:, sk.index(c)]  # (S_g, L^n)
        pi += np.eye(mdp.n_actions)[a] / len(draws)
    return pi


def _to_joint(mdp, n, v_counts):
    tuples, _, _ = _joint(mdp, n)
    c = np.stack([np.bincount(t, minlength=mdp.L) for t in tuples])
    return v_counts[:, CountSpace(n, mdp.L).index(c)]


def _cases():
    rng = np.random.default_rng(2024)
    for i in range(8):  # seeded random tiny systems
        S, A, L = (int(v) for v in rng.integers([1, 2, 2], [4, 4, 4]))
        n = int(rng.integers(2, 5 if L == 2 else 4))
        k = int(rng.integers(1, n + 1))
        gamma = float(rng.uniform(0.5, 0.95))
        mdp = envs.random_mdp(S, A, L, gamma=gamma, rng=100 + i)
        m = [None, 1, 3, 10][i % 4]
        T = [None, 1, 3, 7][(i // 2) % 4]
        yield mdp, n, k, m, T, 7 + i


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: f"n{c[1]}k{c[2]}m{c[3]}T{c[4]}")
def test_parts_sum_to_the_brute_force_gap(case):
    mdp, n, k, m, T, seed = case
    d = decompose_gap(mdp, n, k, m=m, T=T, rng=seed)
    # independent total: V* by brute-force VI on S_g × S_l^n, V of Algorithm 2 by enumerating
    # every subset on the joint space; mu uniform over joint states
    v_star = solve_full(mdp, n, tol=1e-14, max_iter=100_000).q.max(axis=2)
    if m is None:
        learned = solve_mean_field(mdp, k, tol=1e-13) if T is None else None
        if learned is None:  # T exact sweeps from Q_0 = 0
            from rlcourse.subsample.decomposition import _exact_sweeps

            learned = _exact_sweeps(mdp, k, T)
    else:
        s = int(np.random.default_rng(seed).integers(2**62))
        learned = subsample_q(mdp, k, m=m, T=T or 1_000_000, tol=None if T else 1e-12, rng=s)
    v_pi = _joint_value(mdp, n, _joint_alg2(mdp, n, k, learned.policy, "fresh"))
    total = float(np.mean(v_star - v_pi))
    assert abs(sum(d.parts.values()) - total) < 1e-10
    assert abs(d.total - total) < 1e-10
    np.testing.assert_allclose(_to_joint(mdp, n, d.v_learned), v_pi, atol=1e-10)
    np.testing.assert_allclose(_to_joint(mdp, n, d.v_star), v_star, atol=1e-10)
    # the optimum dominates every policy of the chain, state by state
    for v in (d.v_mean, d.v_exact, d.v_fixed_point, d.v_learned):
        assert np.all(d.v_star >= v - 1e-10)
    assert d.mismatch >= -1e-10 and d.total >= -1e-10
    if m is None:
        assert d.noise == 0 and d.eps == 0
    if T is None:
        assert d.truncation == 0 and d.eps_T == 0


def test_k_equals_n_has_no_mismatch_and_no_sampling():
    mdp = envs.random_mdp(2, 3, 2, rng=5)
    d = decompose_gap(mdp, 3, 3, m=4, T=5, rng=1)
    assert abs(d.mismatch) < 1e-10 and abs(d.sampling) < 1e-10
    assert abs(d.total - d.noise - d.truncation) < 1e-12


def test_truncation_vanishes_with_many_sweeps_and_noise_with_many_samples():
    mdp = envs.toy(L=2, gamma=0.8)
    d = decompose_gap(mdp, 3, 2, m=5, T=400, rng=3)
    assert abs(d.truncation) < 1e-10 and d.eps_T < 1e-8
    eps = [decompose_gap(mdp, 3, 2, m=m, T=None, rng=3).eps for m in (1, 10, 1000)]
    assert eps[2] < eps[0]


@pytest.mark.parametrize("subsets", ["fixed", "replace"])
def test_fixed_and_with_replacement_values_match_the_joint_space(subsets):
    mdp = envs.random_mdp(2, 2, 3, gamma=0.85, rng=9)
    n, k = 3, 2
    policy = solve_mean_field(mdp, k).policy
    v = execution_value(mdp, n, k, policy, subsets=subsets)
    if subsets == "replace":
        want = _joint_value(mdp, n, _joint_alg2(mdp, n, k, policy, "replace"))
    else:  # one subset for the whole episode: the average of its deterministic policies
        vals = []
        for d in combinations(range(n), k):
            tuples, _, _ = _joint(mdp, n)
            c = np.stack([np.bincount(t[list(d)], minlength=mdp.L) for t in tuples])
            a = policy[:, CountSpace(k, mdp.L).index(c)]
            vals.append(_joint_value(mdp, n, np.eye(mdp.n_actions)[a]))
        want = np.mean(vals, axis=0)
    np.testing.assert_allclose(_to_joint(mdp, n, v), want, atol=1e-10)
    fresh = execution_value(mdp, n, n, solve_mean_field(mdp, n).policy)
    fixed = execution_value(mdp, n, n, solve_mean_field(mdp, n).policy, subsets="fixed")
    np.testing.assert_allclose(fresh, fixed, atol=1e-10)  # k = n: nothing to draw


def test_subset_count_law_rows_are_distributions_with_the_right_mean():
    H = subset_count_law(5, 3, 3)
    M = subset_count_law(5, 3, 3, replace=True)
    np.testing.assert_allclose(H.sum(1), 1)
    np.testing.assert_allclose(M.sum(1), 1)
    cn, ck = CountSpace(5, 3).counts, CountSpace(3, 3).counts
    np.testing.assert_allclose(H @ ck / 3, cn / 5)  # unbiased shares, both ways
    np.testing.assert_allclose(M @ ck / 3, cn / 5)
    np.testing.assert_allclose(subset_count_law(4, 4, 3), np.eye(CountSpace(4, 3).size))


def test_optimal_on_counts_matches_brute_force_and_evaluation():
    mdp = envs.random_mdp(2, 3, 3, gamma=0.9, rng=11)
    v, pol = optimal_on_counts(mdp, 3)
    np.testing.assert_allclose(
        _to_joint(mdp, 3, v), solve_full(mdp, 3, tol=1e-14).q.max(2), atol=1e-10
    )
    np.testing.assert_allclose(evaluate_on_counts(mdp, 3, np.eye(3)[pol]), v, atol=1e-12)


def test_same_histogram_mismatch_on_queueing_and_the_toy():
    """The TV = 0 counterexample: equal histograms, different Q*_k and Q*_n."""
    q = envs.queueing()
    diffs = [same_histogram_mismatch(q, 24, k).max_diff for k in (1, 2, 4)]
    np.testing.assert_allclose(diffs, [0.09998, 0.04740, 0.02313], atol=5e-5)
    toy = same_histogram_mismatch(envs.toy(L=3, gamma=0.8), 4, 1)
    assert toy.action_differs == pytest.approx(1 / 6)
    assert same_histogram_mismatch(q, 6, 6).max_diff < 1e-9


def test_bad_inputs_raise_value_errors_naming_the_argument():
    mdp = envs.random_mdp(2, 2, 2, rng=0)
    with pytest.raises(ValueError, match="^k:"):
        decompose_gap(mdp, 3, 4, m=2, T=2, rng=0)
    with pytest.raises(ValueError, match="^m:"):
        decompose_gap(mdp, 3, 2, m=0, T=2, rng=0)
    with pytest.raises(ValueError, match="^T:"):
        decompose_gap(mdp, 3, 2, m=2, T=0, rng=0)
    with pytest.raises(ValueError, match="^mdp:"):
        decompose_gap("queue", 3, 2, m=2, T=2, rng=0)
    with pytest.raises(ValueError, match="^mu:"):
        decompose_gap(mdp, 3, 2, m=2, T=2, rng=0, mu=np.ones((2, 4)))
    with pytest.raises(ValueError, match="^mu:"):
        decompose_gap(mdp, 3, 2, m=2, T=2, rng=0, mu=np.ones((2, 3)))
    with pytest.raises(ValueError, match="^n:.*max_states"):
        decompose_gap(envs.demand_response(), 4, 1, m=2, T=2, rng=0)
    with pytest.raises(ValueError, match="^subsets:"):
        execution_value(mdp, 3, 1, np.zeros((2, 2), int), subsets="sometimes")
    with pytest.raises(ValueError, match="^policy_k:"):
        execution_value(mdp, 3, 1, np.zeros((2, 5), int))
    with pytest.raises(ValueError, match="^pi:"):
        evaluate_on_counts(mdp, 3, np.ones((2, 4, 2)))


def test_gap_decomposition_figure_draws_every_part_for_every_m():
    from rlcourse import plots

    mdp = envs.toy(L=2, gamma=0.8)
    runs = [decompose_gap(mdp, 3, k, m=m, T=5, rng=0) for k in (1, 2, 3) for m in (2, None)]
    fig = plots.gap_decomposition(runs)
    axes = fig.get_axes()
    titles = [ax.get_title() for ax in axes[:5]]
    assert titles[:4] == ["mismatch", "sampling", "noise", "truncation"]
    for ax, name in zip(axes[:4], titles[:4], strict=True):
        assert len(ax.get_lines()) == 2 + 1  # one line per m, and the zero line
        ys = ax.get_lines()[1].get_ydata()  # m = ∞
        want = [getattr(r, name) for r in runs if r.m is None]
        np.testing.assert_allclose(ys, want)
