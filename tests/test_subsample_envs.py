"""Demand response: the spec's prices make the optimal policy ignore the local agents (an
exact certificate, checked against value iteration); the course's variant does not."""

import numpy as np
import pytest

from rlcourse.subsample import (
    GlobalPolicy,
    count_kernel,
    envs,
    evaluate,
    gap_vs_k,
    solve_mean_field,
)
from rlcourse.subsample.planning import certify_global_policy, subsystem_reward


def test_price_weight_one_is_the_specification():
    a, b = envs.demand_response(), envs.demand_response(price_weight=1.0)
    np.testing.assert_array_equal(a.r_g, b.r_g)
    s = np.arange(1, 6)[:, None]
    np.testing.assert_allclose(a.r_g, 15 / s - np.array([1, 0, 0])[None, :])
    w = envs.demand_response(price_weight=0.25)
    np.testing.assert_allclose(w.r_g, 0.25 * 15 / s - np.array([1, 0, 0])[None, :])
    np.testing.assert_array_equal(w.P_l, a.P_l)
    np.testing.assert_array_equal(w.r_l, a.r_l)


@pytest.mark.parametrize("k", [1, 2])
def test_spec_policy_ignores_the_histogram(k):
    mdp = envs.demand_response()
    cert = certify_global_policy(mdp)
    assert cert.optimal
    pol = solve_mean_field(mdp, k, tol=1e-7).policy  # exact VI on (s_g, c)
    np.testing.assert_array_equal(pol, np.broadcast_to(cert.pi_g[:, None], pol.shape))


def test_variant_policy_uses_the_histogram():
    mdp = envs.demand_response(price_weight=envs.VARIANT_PRICE_WEIGHT)
    cert = certify_global_policy(mdp)
    assert not cert.optimal
    pol = solve_mean_field(mdp, 2, tol=1e-7).policy
    varies = (pol != pol[:, :1]).any(axis=1)
    assert varies.sum() >= 2  # the greedy action depends on c at several s_g


@pytest.mark.parametrize("seed", range(6))
def test_certificate_value_is_exact_and_verdict_matches_value_iteration(seed):
    mdp = envs.random_mdp(3, 2, 3, rng=seed)
    cert = certify_global_policy(mdp)
    k = 3
    mf = solve_mean_field(mdp, k)
    space = mf.space
    # exact policy evaluation of pi_g on the k-agent system with the count kernel
    K = count_kernel(mdp.P_l, k)
    s = np.arange(mdp.n_global)
    r_pi = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)[s, :, cert.pi_g]  # (S_g, N)
    P = mdp.P_g[s, cert.pi_g][:, None, :, None] * K[:, :, None, :]  # (s, c, s', c')
    n_states = mdp.n_global * space.size
    V = np.linalg.solve(
        np.eye(n_states) - mdp.gamma * P.reshape(n_states, n_states), r_pi.ravel()
    ).reshape(mdp.n_global, space.size)
    np.testing.assert_allclose(
        V, cert.g[:, None] + (space.counts @ cert.h.T).T / k, atol=1e-9, rtol=0
    )
    agents = np.broadcast_to(space.agents, (mdp.n_global, *space.agents.shape))
    np.testing.assert_allclose(
        cert.value(np.repeat(s, space.size), agents.reshape(-1, k)), V.ravel(), atol=1e-9
    )
    # verdict: optimal <=> the exact greedy policy is pi_g everywhere (no ties in random MDPs)
    same = np.array_equal(mf.policy, np.broadcast_to(cert.pi_g[:, None], mf.policy.shape))
    assert cert.optimal == same
    if cert.optimal:
        np.testing.assert_allclose(mf.v, V, atol=1e-8)


def test_certified_reference_gives_zero_gap_on_the_spec_model():
    mdp = envs.demand_response()
    cert = certify_global_policy(mdp)
    ref = GlobalPolicy(cert.pi_g, method="certified")
    res = gap_vs_k(mdp, 3, [1, 2], m=None, T=1, horizon=15, episodes=20, seed=3, reference=ref)
    np.testing.assert_array_equal(res.gaps, 0.0)  # same actions, same noise: same returns
    assert res.reference == "certified"
    # Monte-Carlo return of the certified policy agrees with its exact value
    rng = np.random.default_rng(0)
    s_g, s_l = rng.integers(0, 5, 1), rng.integers(0, 25, (1, 8))
    ev = evaluate(mdp, ref, n=8, s0=(s_g, s_l[0]), horizon=120, episodes=4000, rng=1)
    assert abs(ev.mean - cert.value(s_g, s_l)[0]) < 4 * ev.stderr + 1e-3
