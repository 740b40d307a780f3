"""Every public function refuses bad input with a ValueError naming the argument."""

import numpy as np
import pytest

from rlcourse.subsample import (
    GlobalLocalMDP,
    GlobalPolicy,
    SubsampledPolicy,
    bellman_noise_vs_m,
    certify_global_policy,
    count_kernel,
    dkw_bound,
    draw_subset,
    envs,
    evaluate,
    gap_vs_k,
    learning_time_vs_k,
    sample_next_counts,
    sample_next_globals,
    sampled_bellman_update,
    solve_full,
    solve_mean_field,
    solve_raw_tuples,
    step,
    subsample_counts,
    subsample_q,
    subsample_tv,
    subsystem_reward,
    tv_vs_k,
)

MDP = envs.random_mdp(2, 2, 2, rng=0)
P_g, P_l, r_g, r_l = MDP.P_g, MDP.P_l, MDP.r_g, MDP.r_l
RES = solve_mean_field(MDP, 2)


def _update_args():
    Q = np.zeros((2, 3, 2))
    return Q, Q.copy(), np.zeros((2, 3, 2, 4), np.int8), np.zeros((2, 3, 4), np.int32)


CASES = [
    ("P_g", lambda: GlobalLocalMDP(P_g[:, :, :1], P_l, r_g, r_l, 0.9)),
    ("P_g", lambda: GlobalLocalMDP(P_g * 2, P_l, r_g, r_l, 0.9)),
    ("P_l", lambda: GlobalLocalMDP(P_g, P_l[:, :1], r_g, r_l, 0.9)),
    ("P_l", lambda: GlobalLocalMDP(P_g, np.full_like(P_l, np.nan), r_g, r_l, 0.9)),
    ("P_l", lambda: GlobalLocalMDP(P_g, -P_l, r_g, r_l, 0.9)),
    ("r_g", lambda: GlobalLocalMDP(P_g, P_l, r_g[:1], r_l, 0.9)),
    ("r_l", lambda: GlobalLocalMDP(P_g, P_l, r_g, r_l.T[:1], 0.9)),
    ("gamma", lambda: GlobalLocalMDP(P_g, P_l, r_g, r_l, 1.0)),
    ("gamma", lambda: envs.demand_response(gamma=0)),
    ("price_weight", lambda: envs.demand_response(price_weight=-0.1)),
    ("price_weight", lambda: envs.demand_response(price_weight=float("nan"))),
    ("pi_g", lambda: certify_global_policy(MDP, np.array([0, 2]))),
    ("pi_g", lambda: certify_global_policy(MDP, np.array([0]))),
    ("mdp", lambda: certify_global_policy("mdp")),
    ("pi_g", lambda: GlobalPolicy(np.array([0.5, 1.0]))),
    ("s_g", lambda: GlobalPolicy(np.array([0, 1])).act(np.array([2]), np.zeros((1, 3), int), 0)),
    ("p", lambda: envs.queueing(p=1.5)),
    ("L", lambda: envs.toy(L=1)),
    ("rng", lambda: envs.random_mdp(rng=None)),
    ("s_g", lambda: step(MDP, np.array([5]), np.array([0]), np.zeros((1, 3), int), 0)),
    ("a_g", lambda: step(MDP, np.array([0]), np.array([0, 1]), np.zeros((1, 3), int), 0)),
    ("s_local", lambda: step(MDP, np.array([0]), np.array([0]), np.zeros(3, int), 0)),
    ("s_local", lambda: step(MDP, np.array([0]), np.array([0]), np.full((1, 3), 0.5), 0)),
    ("rng", lambda: step(MDP, np.array([0]), np.array([0]), np.zeros((1, 3), int), "x")),
    ("counts", lambda: subsystem_reward(r_g, r_l, np.array([[1, 0], [1, 1]]))),
    ("r_l", lambda: subsystem_reward(r_g, r_l[:, :1], np.array([[1, 0]]))),
    ("max_bytes", lambda: count_kernel(envs.demand_response().P_l, 6)),
    ("k", lambda: solve_mean_field(MDP, 0)),
    ("tol", lambda: solve_mean_field(MDP, 2, tol=-1)),
    ("mdp", lambda: solve_mean_field("mdp", 2)),
    ("max_bytes", lambda: solve_mean_field(envs.demand_response(), 6)),
    ("m", lambda: subsample_q(MDP, 2, m=0, T=5, rng=0)),
    ("T", lambda: subsample_q(MDP, 2, m=2, T=0, rng=0)),
    ("k", lambda: subsample_q(MDP, 2.5, m=2, T=5, rng=0)),
    ("rng", lambda: subsample_q(MDP, 2, m=2, T=5, rng=-1)),
    ("max_bytes", lambda: subsample_q(envs.demand_response(), 12, m=10, T=5, rng=0)),
    ("k", lambda: solve_raw_tuples(MDP, 0)),
    ("n", lambda: solve_full(envs.demand_response(), 8)),
    ("space", lambda: sample_next_counts(MDP, RES.space.__class__(2, 3), 3, 0)),
    ("m", lambda: sample_next_counts(MDP, RES.space, 0, 0)),
    ("N", lambda: sample_next_globals(MDP, 0, 3, 0)),
    ("Q", lambda: sampled_bellman_update(np.zeros(3), *_update_args()[1:], 0.9)),
    ("next_c", lambda: sampled_bellman_update(*_update_args()[:3], np.full((2, 3, 4), 9), 0.9)),
    ("next_c", lambda: sampled_bellman_update(*_update_args()[:3], np.zeros((2, 3, 4)), 0.9)),
    (
        "next_g",
        lambda: sampled_bellman_update(
            *_update_args()[:2], np.zeros((2, 3, 2, 5), int), _update_args()[3], 0.9
        ),
    ),
    (
        "next_g",
        lambda: sampled_bellman_update(
            *_update_args()[:2], np.full((2, 3, 2, 4), 7), _update_args()[3], 0.9
        ),
    ),
    ("gamma", lambda: sampled_bellman_update(*_update_args(), 1.5)),
    (
        "r_k",
        lambda: sampled_bellman_update(
            _update_args()[0], np.zeros((2, 3, 3)), *_update_args()[2:], 0.9
        ),
    ),
    ("k", lambda: draw_subset(3, 4, 2, 0)),
    ("size", lambda: draw_subset(3, 2, -1, 0)),
    ("s_local", lambda: subsample_counts(np.full((2, 3), 4), 2, 3, 0)),
    ("result", lambda: SubsampledPolicy("q", 4, 2)),
    ("k", lambda: SubsampledPolicy(RES, 4, 3)),
    ("k", lambda: SubsampledPolicy(RES, 1, 2)),
    ("s_local", lambda: SubsampledPolicy(RES, 4, 2).act(np.array([0]), np.zeros((1, 3), int), 0)),
    (
        "n",
        lambda: evaluate(
            MDP, SubsampledPolicy(RES, 4, 2), n=0, s0=(0, [0]), horizon=2, episodes=2, rng=0
        ),
    ),
    (
        "s0",
        lambda: evaluate(
            MDP, SubsampledPolicy(RES, 4, 2), n=4, s0=(0, [0, 1]), horizon=2, episodes=2, rng=0
        ),
    ),
    (
        "s0",
        lambda: evaluate(MDP, SubsampledPolicy(RES, 4, 2), n=4, s0=0, horizon=2, episodes=2, rng=0),
    ),
    (
        "horizon",
        lambda: evaluate(
            MDP, SubsampledPolicy(RES, 4, 2), n=4, s0=(0, [0] * 4), horizon=0, episodes=2, rng=0
        ),
    ),
    ("policy", lambda: evaluate(MDP, "pi", n=4, s0=(0, [0] * 4), horizon=2, episodes=2, rng=0)),
    ("delta", lambda: dkw_bound(10, 3, 4, 1.0)),
    ("k", lambda: dkw_bound(10, 11, 4, 0.1)),
    ("metric", lambda: subsample_tv(np.zeros(5, int), 2, 3, trials=3, rng=0, metric="l2")),
    ("trials", lambda: subsample_tv(np.zeros(5, int), 2, 3, trials=0, rng=0)),
    ("ks", lambda: gap_vs_k(MDP, 4, [1, 5], m=2, T=2, horizon=2, episodes=2, seed=0)),
    ("ks", lambda: learning_time_vs_k(MDP, [], m=2, T=2, seed=0)),
    (
        "reference",
        lambda: gap_vs_k(MDP, 4, [1], m=2, T=2, horizon=2, episodes=2, seed=0, reference=RES),
    ),
    (
        "reference",
        lambda: gap_vs_k(MDP, 4, [1], m=2, T=2, horizon=2, episodes=2, seed=0, reference="pi"),
    ),
    ("ms", lambda: bellman_noise_vs_m(MDP, 2, [0, 1])),
    ("delta", lambda: tv_vs_k(np.zeros(5, int), 3, [1], trials=3, delta=2, rng=0)),
]


@pytest.mark.parametrize("name, call", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_raises_value_error_naming_the_argument(name, call):
    with pytest.raises(ValueError, match=name):
        call()
