"""Planners: mean-field = brute force, raw tuples = histograms, sampled operator properties."""

import numpy as np
import pytest
from subsample_reference import loop_update

from rlcourse.subsample import (
    CountSpace,
    count_kernel,
    envs,
    next_counts_from_uniforms,
    sample_next_counts,
    sample_next_globals,
    sampled_bellman_update,
    solve_full,
    solve_mean_field,
    solve_raw_tuples,
    subsample_q,
    subsystem_reward,
)
from rlcourse.subsample.planning import _InverseCDF


def _tuple_to_count_index(res, space):
    c = np.stack([np.bincount(s, minlength=res.L) for s in res.states])
    return space.index(c)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 3), (3, 2, 2)])
def test_mean_field_at_k_equals_n_matches_brute_force(seed, shape):
    mdp = envs.random_mdp(*shape, rng=seed)
    for n in range(1, 6 if shape[2] == 2 else 5):
        mf = solve_mean_field(mdp, n)
        full = solve_full(mdp, n)
        idx = _tuple_to_count_index(full, mf.space)
        np.testing.assert_allclose(mf.q[:, idx, :], full.q, atol=1e-8, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_raw_tuples_equal_histograms(k):
    mdp = envs.random_mdp(2, 2, 3, rng=7)
    mf = solve_mean_field(mdp, k)
    raw = solve_raw_tuples(mdp, k)
    np.testing.assert_allclose(mf.q[:, _tuple_to_count_index(raw, mf.space), :], raw.q, atol=1e-8)


def test_count_kernel_rows_are_distributions_and_k1_is_P_l():
    mdp = envs.random_mdp(2, 2, 3, rng=3)
    np.testing.assert_allclose(count_kernel(mdp.P_l, 1), mdp.P_l.transpose(1, 0, 2))
    K = count_kernel(mdp.P_l, 4)
    np.testing.assert_allclose(K.sum(axis=2), 1.0)
    # mean next count = c @ P_l[:, s_g, :]
    space = CountSpace(4, 3)
    for s in range(2):
        mean = K[s] @ space.counts
        np.testing.assert_allclose(mean, space.counts @ mdp.P_l[:, s, :], atol=1e-12)


def test_sampled_next_counts_follow_the_kernel():
    mdp = envs.random_mdp(2, 2, 3, rng=0)
    space = CountSpace(3, 3)
    m = 20000
    nc = sample_next_counts(mdp, space, m, rng=1)
    assert nc.shape == (2, space.size, m) and nc.dtype == np.int32
    emp = np.stack([np.bincount(row, minlength=space.size) for row in nc.reshape(-1, m)]) / m
    K = count_kernel(mdp.P_l, 3).reshape(-1, space.size)
    assert np.abs(emp - K).max() < 4 * np.sqrt(0.25 / m) + 1e-3


def test_sampler_is_seeded_and_independent_of_workers():
    mdp = envs.demand_response()
    space = CountSpace(2, 25)
    a = sample_next_counts(mdp, space, 5, rng=3, workers=1)
    b = sample_next_counts(mdp, space, 5, rng=3, workers=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_next_counts(mdp, space, 5, rng=4))


def test_fast_inverse_cdf_equals_the_reference_comparison():
    mdp = envs.demand_response()
    F = mdp.cdf_l.reshape(-1, mdp.L).astype(np.float32)
    F[:, -1] = 1
    rng = np.random.default_rng(0)
    row = rng.integers(0, F.shape[0], 200_000).astype(np.int32)
    u = rng.random(200_000, dtype=np.float32)
    u[:500] = F[row[:500], rng.integers(0, mdp.L - 1, 500)]  # exactly on breakpoints
    u = np.minimum(u, np.nextafter(np.float32(1), np.float32(0)))  # u in [0, 1)
    np.testing.assert_array_equal(_InverseCDF(mdp.cdf_l)(row, u), (F[row] <= u[:, None]).sum(1))


def test_reference_next_counts_are_count_vectors():
    mdp = envs.random_mdp(2, 2, 4, rng=2)
    space = CountSpace(3, 4)
    u = np.random.default_rng(0).random((space.size, 6, 3))
    c = next_counts_from_uniforms(mdp.P_l, space.agents, np.zeros(space.size, int), u)
    assert c.shape == (space.size, 6, 4) and np.all(c.sum(-1) == 3)


def _random_update_case(seed, S_g=3, N=10, A=2, m=4):
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(S_g, N, A))
    r_k = rng.normal(size=(S_g, N, A))
    next_g = rng.integers(0, S_g, (S_g, N, A, m)).astype(np.int8)
    next_c = rng.integers(0, N, (S_g, N, m)).astype(np.int32)
    return Q, r_k, next_g, next_c


@pytest.mark.parametrize("seed", range(5))
def test_sampled_update_matches_per_entry_loop(seed):
    Q, r_k, next_g, next_c = _random_update_case(seed)
    np.testing.assert_allclose(
        sampled_bellman_update(Q, r_k, next_g, next_c, 0.9),
        loop_update(Q, r_k, next_g, next_c, 0.9),
        atol=1e-12,
    )


@pytest.mark.parametrize("seed", range(5))
def test_sampled_operator_is_a_gamma_contraction(seed):
    Q1, r_k, next_g, next_c = _random_update_case(seed)
    Q2 = Q1 + np.random.default_rng(seed + 100).normal(scale=3, size=Q1.shape)
    gamma = 0.8
    d_in = np.abs(Q1 - Q2).max()
    d_out = np.abs(
        sampled_bellman_update(Q1, r_k, next_g, next_c, gamma)
        - sampled_bellman_update(Q2, r_k, next_g, next_c, gamma)
    ).max()
    assert d_out <= gamma * d_in + 1e-12


def test_bellman_noise_falls_with_m():
    mdp = envs.toy(3)
    k = 3
    q_star = solve_mean_field(mdp, k).q
    eps = [
        np.mean(
            [
                np.abs(subsample_q(mdp, k, m=m, T=500, tol=1e-8, rng=s).q - q_star).max()
                for s in range(4)
            ]
        )
        for m in (1, 16, 256)
    ]
    assert eps[0] > eps[1] > eps[2]


def test_subsample_q_converges_to_exact_with_many_samples_and_is_seeded():
    mdp = envs.random_mdp(2, 2, 2, rng=5)
    q_star = solve_mean_field(mdp, 2).q
    a = subsample_q(mdp, 2, m=4000, T=300, tol=1e-9, rng=0)
    assert np.abs(a.q - q_star).max() < 0.1
    b = subsample_q(mdp, 2, m=4000, T=300, tol=1e-9, rng=0)
    np.testing.assert_array_equal(a.q, b.q)
    assert a.q.shape == (2, 3, 2) and a.policy.shape == (2, 3)


def test_subsystem_reward_formula():
    mdp = envs.random_mdp(2, 3, 4, rng=1)
    space = CountSpace(3, 4)
    r = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    c = space.counts[5]
    expect = mdp.r_g + (c @ mdp.r_l / 3)[:, None]
    np.testing.assert_allclose(r[:, 5, :], expect)


def test_deterministic_global_moves_need_no_draws():
    mdp = envs.demand_response()
    g = sample_next_globals(mdp, 4, 3, rng=0)
    assert g.shape == (5, 4, 3, 3)
    np.testing.assert_array_equal(g[:, 0, :, 0], mdp.P_g.argmax(axis=2))
    stoch = envs.toy(2)
    gs = sample_next_globals(stoch, 2000, 5, rng=0)
    freq = (gs[0, :, 1, :] == 1).mean()  # switch from low succeeds w.p. 0.9
    assert abs(freq - 0.9) < 0.02


def test_queueing_optimal_policy_is_not_constant():
    mdp = envs.queueing()
    pi = solve_mean_field(mdp, 20).policy
    assert len(np.unique(pi)) > 1
    # for a fixed capacity level the action depends on the queue histogram
    assert any(len(np.unique(pi[s])) > 1 for s in range(mdp.n_global))
