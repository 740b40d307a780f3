"""Execution (Algorithm 2), the simulator, evaluation and the sampling bound."""

import numpy as np
import pytest

from rlcourse.subsample import (
    GlobalLocalMDP,
    SubsampledPolicy,
    dkw_bound,
    draw_subset,
    envs,
    evaluate,
    solve_mean_field,
    step,
    subsample_counts,
    subsample_tv,
)


def test_draw_subset_without_replacement_and_uniform():
    idx = draw_subset(7, 4, 20000, rng=0)
    assert idx.shape == (20000, 4)
    assert all(len(set(row)) == 4 for row in idx[:2000].tolist())
    freq = np.bincount(idx.ravel(), minlength=7) / idx.size
    np.testing.assert_allclose(freq, 1 / 7, atol=0.01)


def test_subsample_counts_at_k_equals_n_are_exact_histograms():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, (30, 9))
    c = subsample_counts(s, 9, 5, rng=1)
    np.testing.assert_array_equal(c, np.stack([np.bincount(r, minlength=5) for r in s]))
    c3 = subsample_counts(s, 3, 5, rng=1)
    assert np.all(c3.sum(1) == 3) and np.all(c3 <= c)  # a sub-multiset of the population


def test_step_moves_and_rewards_all_agents():
    mdp = envs.random_mdp(2, 2, 3, rng=4)
    rng = np.random.default_rng(0)
    s_g, a_g, s = rng.integers(0, 2, 500), rng.integers(0, 2, 500), rng.integers(0, 3, (500, 6))
    g2, s2, r = step(mdp, s_g, a_g, s, rng=1)
    expect = mdp.r_g[s_g, a_g] + mdp.r_l[s, s_g[:, None]].mean(1)
    np.testing.assert_allclose(r, expect)
    assert g2.shape == (500,) and s2.shape == (500, 6)
    # same seed -> same numbers; transitions follow P_l
    np.testing.assert_array_equal(step(mdp, s_g, a_g, s, rng=1)[1], s2)
    big = np.zeros((20000, 1), int)
    _, nxt, _ = step(mdp, np.zeros(20000, int), np.zeros(20000, int), big, rng=2)
    np.testing.assert_allclose(
        np.bincount(nxt[:, 0], minlength=3) / 20000, mdp.P_l[0, 0], atol=0.015
    )


def test_evaluate_counts_the_reward_of_all_n_agents():
    # r_l is the agent's state index; with horizon 1 the return is r_g + mean over ALL agents
    P_l = np.tile(np.eye(3)[:, None, :], (1, 1, 1))
    mdp = GlobalLocalMDP(np.ones((1, 1, 1)), P_l, np.zeros((1, 1)), np.arange(3.0)[:, None], 0.9)
    res = solve_mean_field(mdp, 1)
    s_local = np.array([0, 0, 0, 0, 2, 2])
    ev = evaluate(
        mdp, SubsampledPolicy(res, 6, 1), n=6, s0=(0, s_local), horizon=1, episodes=50, rng=0
    )
    np.testing.assert_allclose(ev.returns, s_local.mean())


def test_evaluate_common_random_numbers_and_full_information_policy():
    mdp = envs.queueing()
    n = 10
    full = solve_mean_field(mdp, n)
    s0 = (1, np.random.default_rng(0).integers(0, mdp.L, n))
    a = evaluate(mdp, SubsampledPolicy(full, n, n), n=n, s0=s0, horizon=30, episodes=64, rng=3)
    b = evaluate(mdp, SubsampledPolicy(full, n, n), n=n, s0=s0, horizon=30, episodes=64, rng=3)
    np.testing.assert_array_equal(a.returns, b.returns)
    small = solve_mean_field(mdp, 2)
    c = evaluate(mdp, SubsampledPolicy(small, n, 2), n=n, s0=s0, horizon=30, episodes=64, rng=3)
    assert a.mean >= c.mean - 3 * np.hypot(a.stderr, c.stderr)


def test_dkw_bound_formula_and_zero_at_k_equals_n():
    assert dkw_bound(10, 10, 4, 0.1) == pytest.approx(np.sqrt(1 / 800 * np.log(80)))
    assert dkw_bound(10, 3, 4, 0.1) == pytest.approx(np.sqrt(8 / 240 * np.log(80)))
    pop = np.random.default_rng(0).integers(0, 4, 40)
    assert np.all(subsample_tv(pop, 40, 4, trials=50, rng=0) == 0)
    assert np.any(subsample_tv(pop, 40, 4, trials=50, rng=0, replace=True) > 0)


def test_per_state_deviation_within_bound_with_probability_one_minus_delta():
    pop = np.random.default_rng(1).integers(0, 5, 60)
    for k in (5, 20, 50):
        dev = subsample_tv(pop, k, 5, trials=3000, rng=k, metric="max")
        assert np.mean(dev <= dkw_bound(60, k, 5, 0.05)) >= 0.95


def test_bound_controls_the_half_max_deviation_not_the_tv_at_L_25():
    """The documented caveat of ``dkw_bound``: at L = 25 (demand response) the bound holds
    for ½ max_x |F_Δ(x) − F(x)| but the TV distance exceeds it at small k."""
    pop = np.random.default_rng(0).integers(0, 25, 50)
    k = 5
    bound = dkw_bound(50, k, 25, 0.05)
    half_max = subsample_tv(pop, k, 25, trials=2000, rng=1, metric="max")
    tv = subsample_tv(pop, k, 25, trials=2000, rng=2)
    assert np.mean(half_max <= bound) >= 0.95
    assert np.mean(tv <= bound) < 0.05  # the TV is above the bound nearly always
