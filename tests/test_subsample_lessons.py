"""Lesson helpers and widgets of the SUBSAMPLE-Q lessons (01–05), driven headlessly and
checked against the library."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse.exercises import lesson01, lesson02, lesson03, lesson04, lesson05
from rlcourse.subsample import (
    CountSpace,
    SubsampledPolicy,
    binomial_table,
    envs,
    evaluate,
    fit_slope,
    solve_full,
    solve_mean_field,
    solve_raw_tuples,
    step,
    subsample_q,
)
from rlcourse.widgets import (
    App,
    bellman_noise_explorer,
    gap_explorer,
    joint_size_explorer,
    learning_cost_explorer,
    table_sizes,
)

# ---- lesson 01 -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_from_uniforms_matches_library_step_on_equal_seeds(seed):
    mdp = envs.random_mdp(3, 2, 4, rng=seed)
    gen = np.random.default_rng(seed)
    B, n = 6, 9
    s_g, a_g = gen.integers(0, 3, B), gen.integers(0, 2, B)
    s_local = gen.integers(0, 4, (B, n))
    u = np.random.default_rng(100 + seed)
    u_g, u_l = u.random(B), u.random((B, n))  # the order in which `step` draws them
    got = lesson01.step_from_uniforms(mdp, s_g, a_g, s_local, u_g, u_l)
    want = step(mdp, s_g, a_g, s_local, rng=100 + seed)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w)


def test_joint_mdp_answer_key_solves_to_the_library_brute_force():
    mdp = envs.toy(L=2, gamma=0.8)
    P, r = lesson01.joint_mdp(mdp.P_g, mdp.P_l, mdp.r_g, mdp.r_l, 3)
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    Q = np.zeros_like(r)
    for _ in range(300):
        Q = r + mdp.gamma * (P @ Q.max(axis=1))
    np.testing.assert_allclose(Q.reshape(2, 8, 2), solve_full(mdp, 3).q, atol=1e-9)


def test_joint_size_explorer_recomputes_table_sizes():
    app = joint_size_explorer(n=2, L=2)
    assert isinstance(app, App)
    assert app.state["q_entries"] == 2 * 2 * 2**2
    app.controls["L"].value = 3
    app.controls["n"].value = 4
    assert (app.state["n"], app.state["L"]) == (4, 3)
    # the Q-table the library's brute force actually builds has this many entries
    assert app.state["q_entries"] == solve_full(envs.toy(L=3), 4).q.size
    assert app.state["joint_states"] == 2 * 3**4
    assert app.state["kernel_entries"] == (2 * 3**4) ** 2 * 2
    assert app.state["q_bytes"] == 8 * app.state["q_entries"]
    assert app.state["figure"].axes[0].get_xlabel() == "number of local agents n"


def test_joint_size_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        joint_size_explorer(n=0)
    with pytest.raises(ValueError, match="L"):
        joint_size_explorer(L=1)


# ---- lesson 02 -------------------------------------------------------------------------------


def test_rank_answer_key_is_the_cumsum_formula_and_a_bijection():
    space = CountSpace(5, 4)
    c = np.asarray(space.counts, dtype=np.int64)
    table = binomial_table(8, 5)
    P = np.cumsum(c, axis=-1)
    x = np.arange(1, 4)
    by_formula = (table[x + P[:, 1:], x] - table[x + P[:, :-1], x]).sum(axis=-1)
    np.testing.assert_array_equal(lesson02.rank_count_vectors(c, table), by_formula)
    np.testing.assert_array_equal(by_formula, np.arange(space.size))


def test_table_sizes_widget_matches_the_library_tables():
    app = table_sizes(n=4, k=2, L=3)
    toy = envs.toy(L=3)
    assert app.state["full"] == solve_full(toy, 4).q.size
    assert app.state["mean_field"] == solve_mean_field(toy, 4).q.size
    assert app.state["raw_tuples"] == solve_raw_tuples(toy, 2).q.size
    assert app.state["histograms"] == solve_mean_field(toy, 2).q.size
    app.controls["k"].value = 3
    assert app.state["histograms"] == solve_mean_field(toy, 3).q.size
    app.controls["k"].value = 9  # k is clipped to n
    assert app.state["k"] == 4
    assert app.state["histograms"] == app.state["mean_field"]
    app.controls["L"].value = 25
    app.controls["n"].value = 50
    app.controls["k"].value = 4
    assert app.state["histograms"] == 4 * CountSpace(4, 25).size
    assert app.state["full"] == 4 * 25**50
    assert "histogram" in app.state["figure"].axes[0].get_title()


def test_table_sizes_widget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="L"):
        table_sizes(L=1)
    with pytest.raises(ValueError, match="k"):
        table_sizes(k=0)


# ---- lesson 03 -------------------------------------------------------------------------------


def test_next_counts_answer_key_follows_the_exact_kernel():
    from rlcourse.subsample import count_kernel

    mdp = envs.random_mdp(2, 2, 3, rng=5)
    space = CountSpace(3, 3)
    i = 4
    agents = np.asarray(space.agents[[i]], dtype=np.int64)
    u = np.random.default_rng(0).random((1, 200_000, 3))
    c = lesson03.next_counts_from_uniforms(mdp.P_l, agents, np.array([1]), u)
    freq = np.bincount(space.index(c[0]), minlength=space.size) / u.shape[1]
    np.testing.assert_allclose(freq, count_kernel(mdp.P_l, 3)[1, i], atol=5e-3)


def test_sampled_update_is_a_gamma_contraction():
    gen = np.random.default_rng(1)
    S, N, A, m = 3, 7, 2, 5
    r_k = gen.normal(size=(S, N, A))
    next_g, next_c = gen.integers(0, S, (S, N, A, m)), gen.integers(0, N, (S, N, m))
    Q1, Q2 = gen.normal(size=(S, N, A)), gen.normal(size=(S, N, A))
    d = np.abs(
        lesson03.sampled_bellman_update(Q1, r_k, next_g, next_c, 0.7)
        - lesson03.sampled_bellman_update(Q2, r_k, next_g, next_c, 0.7)
    ).max()
    assert d <= 0.7 * np.abs(Q1 - Q2).max() + 1e-12


def test_bellman_noise_explorer_recomputes_eps_with_the_library():
    toy = envs.toy(L=3, gamma=0.8)
    app = bellman_noise_explorer(toy, k=3, m=10, seed=0)
    q_star = solve_mean_field(toy, 3).q

    def eps(m, seed):
        q = subsample_q(toy, 3, m=m, T=100_000, tol=1e-8, rng=seed).q
        return np.abs(q - q_star).max()

    assert app.state["eps"] == pytest.approx(eps(10, 0))
    app.controls["m"].value = 1000
    app.controls["seed"].value = 2
    assert (app.state["m"], app.state["seed"]) == (1000, 2)
    assert app.state["eps"] == pytest.approx(eps(1000, 2))
    assert app.state["eps"] < eps(10, 0)
    assert 0.0 <= app.state["policy_agreement"] <= 1.0
    np.testing.assert_allclose(app.state["q_star"], q_star)


def test_bellman_noise_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mdp"):
        bellman_noise_explorer("toy")
    with pytest.raises(ValueError, match="m"):
        bellman_noise_explorer(envs.toy(), m=7)


# ---- lesson 04 -------------------------------------------------------------------------------


def test_subsampled_action_answer_key_matches_the_library_policy():
    mdp = envs.random_mdp(2, 3, 3, rng=7)
    res = solve_mean_field(mdp, 4)
    gen = np.random.default_rng(3)
    s_g, s_local = gen.integers(0, 2, 9), gen.integers(0, 3, (9, 15))
    got = lesson04.subsampled_action(res.policy, res.space, s_g, s_local, np.random.default_rng(8))
    want = SubsampledPolicy(res, 15, 4).act(s_g, s_local, np.random.default_rng(8))
    np.testing.assert_array_equal(got, want)


def test_subsample_tv_is_exact_at_k_equals_n_only_without_replacement():
    pop = np.random.default_rng(0).integers(0, 4, 30)
    gen = np.random.default_rng(1)
    assert np.all(lesson04.subsample_tv(pop, 30, 4, 50, gen) == 0)
    assert np.any(lesson04.subsample_tv(pop, 30, 4, 50, gen, replace=True) > 0)


def test_gap_explorer_recomputes_the_paired_gap_with_the_library():
    queue = envs.queueing()
    n, episodes, horizon, seed = 8, 60, 12, 3
    app = gap_explorer(queue, n=n, k=1, horizon=horizon, episodes=episodes, seed=seed)
    gen = np.random.default_rng(seed)
    s0 = (gen.integers(0, queue.n_global, episodes), gen.integers(0, queue.L, (episodes, n)))

    def returns(k):
        pol = SubsampledPolicy(solve_mean_field(queue, k), n, k)
        return evaluate(
            queue, pol, n=n, s0=s0, horizon=horizon, episodes=episodes, rng=seed + 1
        ).returns

    ref = returns(n)
    for k in (1, 3):
        app.controls["k"].value = k
        diff = ref - returns(k)
        assert app.state["k"] == k
        assert app.state["gap"] == pytest.approx(diff.mean())
        assert app.state["gap_stderr"] == pytest.approx(diff.std(ddof=1) / np.sqrt(episodes))
        assert app.state["ref_ret"] == pytest.approx(ref.mean())
        assert "bound" not in app.state  # no histogram bound printed beside value gaps
    assert sorted(app.state["history"]) == [1, 3]


def test_gap_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        gap_explorer(envs.toy(), n=5, k=6)
    with pytest.raises(ValueError, match="mdp"):
        gap_explorer(None)


# ---- lesson 05 -------------------------------------------------------------------------------


def test_fit_slope_answer_key_recovers_exact_power_laws():
    k = np.array([1.0, 2.0, 4.0, 8.0])
    assert lesson05.fit_slope(k, 5 * k**-0.5) == pytest.approx(-0.5)
    assert lesson05.fit_slope(k, k**3) == pytest.approx(fit_slope(k, k**3)) == pytest.approx(3)
    assert np.isnan(lesson05.fit_slope(k, np.array([1.0, 0.0, -1.0, 0.0])))


def test_queueing_answer_key_is_stochastic_and_matches_the_spec_by_hand():
    P = lesson05.queueing_P_l(3, 2, 0.4, 0.9)
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    q = 0.9 * 1 / 2  # service probability at level 1
    np.testing.assert_allclose(P[1, 1], [(1 - 0.4) * q, 1 - 0.4 * (1 - q) - 0.6 * q, 0.4 * (1 - q)])
    np.testing.assert_allclose(P[0, 0], [0.6, 0.4, 0.0])  # no service at level 0


def test_learning_cost_explorer_matches_subsample_q_tables():
    mdp = envs.queueing()
    app = learning_cost_explorer(mdp, n=6, k=2, m=3, T=4)
    res = subsample_q(mdp, 2, m=3, T=4, rng=0)
    assert app.state["entries"] == res.q.size
    assert app.state["lookups"] == res.q.size * 3 * 4
    app.controls["k"].value = 4
    app.controls["m"].value = 7
    res4 = subsample_q(mdp, 4, m=7, T=4, rng=0)
    assert (app.state["k"], app.state["m"], app.state["T"]) == (4, 7, 4)
    assert app.state["entries"] == res4.q.size
    # the widget shows what subsample_q's own memory guard computes: just below it is refused
    with pytest.raises(ValueError, match="needs about"):
        subsample_q(mdp, 4, m=7, T=4, rng=0, max_bytes=0.999 * app.state["bytes"])
    subsample_q(mdp, 4, m=7, T=4, rng=0, max_bytes=1.001 * app.state["bytes"])
    n_entries = solve_mean_field(mdp, 6).q.size
    assert app.state["ratio_to_n"] == pytest.approx(n_entries / res4.q.size)


def test_learning_cost_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        learning_cost_explorer(envs.toy(), n=3, k=4)
    with pytest.raises(ValueError, match="mdp"):
        learning_cost_explorer(3)
