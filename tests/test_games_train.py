"""Trainer, metrics and the behaviours the paper and the spec describe."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcourse import games as G


def pgg_runs(method: str, runs: int = 50, lr: float = 1.0, **params) -> G.Trajectory:
    w0 = np.random.default_rng(0).uniform(-1, 1, (runs, 2))
    return G.train(G.public_goods(), method, w0, lr=lr, steps=100, **params)


def test_trajectory_shapes_and_manual_loop() -> None:
    game = G.tandem()
    w0 = np.random.default_rng(1).normal(size=(5, 2))
    tr = G.train(game, "sga", w0, lr=0.05, steps=7, lam=0.5)
    assert tr.w.shape == tr.actions.shape == (8, 5, 2)
    assert tr.rewards.shape == (8, 5, 2)
    assert tr.social_welfare.shape == (8, 5)
    assert tr.steps == 7 and tr.method == "sga" and tr.params == {"lam": 0.5}
    w = w0.copy()
    for t in range(7):
        np.testing.assert_allclose(tr.w[t], w)
        w = w - 0.05 * G.sga(game, w, lam=0.5)
    np.testing.assert_allclose(tr.w[-1], w)
    np.testing.assert_allclose(tr.rewards, game.rewards(tr.w))
    # a single initialisation (d,) is a batch of one; a callable method works too
    one = G.train(game, G.sga, w0[0], lr=0.05, steps=7, lam=0.5)
    np.testing.assert_allclose(one.w[:, 0], tr.w[:, 0])


def test_public_goods_selfish_methods_end_at_nash_cooperative_at_optimum() -> None:
    for method, params in [("simul_ind", {}), ("consensus", {"gamma": 1.0}), ("sga", {})]:
        a = pgg_runs(method, **params).final_actions
        assert a.max() < 0.1, method
    steps = {}
    for key, method, params in [
        ("co", "simul_co", {}),
        ("aga1", "aga", {"lam": 1.0}),
        ("aga10", "aga", {"lam": 10.0}),
    ]:
        tr = pgg_runs(method, **params)
        assert tr.final_actions.min() > 0.9, key
        s = G.steps_to_fraction(tr.social_welfare, 2.0, 3.0, 0.9)
        assert np.all(s >= 0), key
        steps[key] = s.mean()
    # at ONE step size; step-matched, Simul-Co is as fast (ξ = −ξ_c/2 here):
    assert steps["aga10"] < steps["aga1"] < steps["co"]
    co_matched = pgg_runs("simul_co", lr=1.5)  # lr (1 + |λ|/2) for |λ| = 1
    s = G.steps_to_fraction(co_matched.social_welfare, 2.0, 3.0, 0.9)
    assert np.all(s >= 0) and s.mean() <= steps["aga1"]


def test_bilinear_simultaneous_descent_spirals_out_sga_and_co_converge() -> None:
    game = G.matching_pennies()
    w0 = np.random.default_rng(2).normal(size=(20, 2))
    r0 = np.linalg.norm(w0, axis=-1)
    ind = G.train(game, "simul_ind", w0, lr=0.1, steps=300)
    radius = np.linalg.norm(ind.w, axis=-1)
    assert np.all(np.diff(radius, axis=0) > 0)  # |w| grows by sqrt(1 + lr^2) each step
    np.testing.assert_allclose(radius[-1], r0 * (1 + 0.1**2) ** 150)
    for method, params in [("sga", {"lam": 1.0}), ("consensus", {"gamma": 1.0})]:
        tr = G.train(game, method, w0, lr=0.1, steps=300, **params)
        assert np.linalg.norm(tr.w[-1], axis=-1).max() < 1e-3 * r0.min(), method


def test_cournot_paper_sign_diverges_and_is_flagged() -> None:
    game = G.cournot()
    w0 = np.random.default_rng(0).uniform(0, 5, (20, 2))
    big = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=1.0)
    assert big.diverged.all()
    assert np.all(np.isfinite(big.w)) and np.all(np.isfinite(big.rewards))
    for b in range(len(w0)):  # frozen after the flagged step
        t = big.diverged_at[b]
        assert t >= 1
        assert np.all(big.w[t:, b] == big.w[t - 1, b])
    small = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=0.1)
    assert not small.diverged.any() and np.all(small.diverged_at == -1)
    exact = G.train(game, "aga_exact_sign", w0, lr=0.05, steps=1000, lam=1.0)
    assert not exact.diverged.any()


def test_projected_cournot_paper_sign_aga_ends_at_the_monopoly_corner() -> None:
    game = G.cournot()  # monopoly output (a - c) / (2 b) = 4.5
    w0 = np.random.default_rng(0).uniform(0, 5, (50, 2))
    aga = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=1.0, project=G.nonnegative)
    q = aga.w[-1]
    assert not aga.diverged.any() and np.all(aga.w >= 0)
    assert (q.min(axis=1) == 0).mean() >= 0.6  # most runs: one firm produces nothing
    assert q.min(axis=1).max() < 0.1  # every run: within 0.1 of the boundary
    assert np.all(np.abs(q.max(axis=1) - 4.5) < 0.5)  # the other near the monopoly output
    assert G.equality(aga.final_rewards).mean() < 0.6
    co = G.train(game, "simul_co", w0, lr=0.05, steps=1000, project=G.nonnegative)
    assert np.all(co.w[-1] > 0)  # Simul-Co stays inside, on the optimal total Q = 4.5
    np.testing.assert_allclose(co.w[-1].sum(axis=1), 4.5)


def test_project_hook_is_applied_after_every_step_and_checked() -> None:
    game = G.tandem()
    w0 = np.random.default_rng(4).normal(size=(3, 2))
    tr = G.train(game, "simul_ind", w0, lr=0.1, steps=5, project=lambda w: np.clip(w, -0.2, 0.2))
    w = w0.copy()
    for _ in range(5):
        w = np.clip(w - 0.1 * G.simul_ind(game, w), -0.2, 0.2)
    np.testing.assert_allclose(tr.w[-1], w)
    np.testing.assert_allclose(tr.w[0], w0)  # the start is not projected
    with pytest.raises(ValueError, match="project: expected a callable"):
        G.train(game, "simul_ind", w0, lr=0.1, steps=5, project=3)
    with pytest.raises(ValueError, match=r"project: expected it to return shape \(3, 2\)"):
        G.train(game, "simul_ind", w0, lr=0.1, steps=5, project=lambda w: w[:, :1])


def test_trainer_flags_non_finite_updates() -> None:
    def explode(game: G.Game, w: np.ndarray) -> np.ndarray:
        return np.where(w[..., :1] > 0, np.inf, -1.0) * np.ones_like(w)

    w0 = np.array([[1.0, 0.0], [-5.0, 0.0]])
    tr = G.train(G.tandem(), explode, w0, lr=1.0, steps=3)
    np.testing.assert_array_equal(tr.diverged, [True, False])
    np.testing.assert_array_equal(tr.diverged_at, [1, -1])
    assert np.all(tr.w[:, 0] == w0[0])
    np.testing.assert_allclose(tr.w[-1, 1], [-2.0, 3.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -0.1}, "lr: expected a finite positive"),
        ({"lr": 0.0}, "lr: expected a finite positive"),
        ({"steps": -1}, "steps: expected an integer >= 0"),
        ({"steps": 2.5}, "steps: expected an integer"),
        ({"w0": np.zeros((2, 3))}, r"w0: expected shape \(\.\.\., 2\)"),
        ({"w0": np.zeros((2, 2, 2))}, r"w0: expected shape \(batch, 2\)"),
        ({"w0": np.array([[0.0, np.nan]])}, "w0: expected finite"),
        ({"method": "nope"}, "method: expected one of"),
        ({"method": 3}, "method: expected a method name"),
        ({"gamma": 1.0}, "params: method 'aga' does not accept"),
        ({"lam": "big"}, "lam: expected a real number"),
        ({"blowup": -1.0}, "blowup"),
    ],
)
def test_train_bad_inputs(kwargs: dict, match: str) -> None:
    args = {"method": "aga", "w0": np.zeros((2, 2)), "lr": 0.1, "steps": 3}
    args.update(kwargs)
    game = G.public_goods()
    with pytest.raises(ValueError, match=match):
        G.train(game, args.pop("method"), args.pop("w0"), **args)


# -- metrics --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 6))
def test_gini_matches_double_loop(seed: int, n: int) -> None:
    r = np.random.default_rng(seed).uniform(0.01, 3, (4, n))
    want = [
        sum(abs(x[i] - x[j]) for i in range(n) for j in range(n)) / (2 * n * x.sum()) for x in r
    ]
    np.testing.assert_allclose(G.gini(r), want)
    np.testing.assert_allclose(G.equality(r), 1 - np.array(want))
    np.testing.assert_allclose(G.social_welfare(r), r.sum(-1))


def test_gini_special_cases_and_errors() -> None:
    np.testing.assert_allclose(G.gini(np.full((3, 4), 2.0)), 0.0)
    np.testing.assert_allclose(G.gini(np.array([5.0, 0, 0, 0])), 3 / 4)  # (n - 1) / n
    with pytest.raises(ValueError, match="r: the Gini coefficient needs a positive total"):
        G.gini(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="r: expected finite"):
        G.gini(np.array([1.0, np.nan]))


def test_steps_to_fraction_and_converge() -> None:
    sw = np.array([[2.0, 2.0], [2.5, 2.0], [2.95, 2.1], [3.0, 2.2]])
    np.testing.assert_array_equal(G.steps_to_fraction(sw, 2.0, 3.0, 0.9), [2, -1])
    np.testing.assert_array_equal(G.steps_to_fraction(sw, 2.0, 3.0, 0.5), [1, -1])
    x = np.array([0.0, 1.0, 1.5, 1.5005, 1.5006, 2.0])[:, None, None] * [1.0, 0.0]
    y = np.array([0.0, 1.0, 1.5, 1.5005, 1.5006, 1.5007])[:, None, None] * [1.0, 0.0]
    np.testing.assert_array_equal(G.steps_to_converge(np.concatenate([x, y], 1)), [-1, 2])
    with pytest.raises(ValueError, match="start, target"):
        G.steps_to_fraction(sw, 2.0, 2.0)
    with pytest.raises(ValueError, match=r"diverged: expected a bool array of shape \(2,\)"):
        G.steps_to_converge(np.concatenate([x, y], 1), diverged=np.zeros(3, bool))
    with pytest.raises(ValueError, match="frac"):
        G.steps_to_fraction(sw, 2.0, 3.0, 1.5)


def test_frozen_diverged_runs_do_not_count_as_converged() -> None:
    game = G.cournot()
    w0 = np.random.default_rng(0).uniform(0, 5, (20, 2))
    tr = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=1.0)
    assert tr.diverged.all()  # every run is frozen before the end: it "stops moving"
    assert np.all(G.steps_to_converge(tr.w) >= 0)  # which alone looks like convergence
    np.testing.assert_array_equal(G.steps_to_converge(tr.w, diverged=tr.diverged), -1)
    np.testing.assert_array_equal(G.steps_to_converge(tr.w[:1], diverged=tr.diverged), -1)


def test_gini_with_a_negative_reward_leaves_the_unit_interval() -> None:
    assert float(G.gini(np.array([-1.0, 3.0]))) == pytest.approx(1.0)
    assert float(G.gini(np.array([-1.0, 1.5]))) > 1.0
    assert "gini([-1, 3]) = 1.0" in G.gini.__doc__


def test_mean_ci() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, (50, 2))
    ci = G.mean_ci(x)
    np.testing.assert_allclose(ci.mean, x.mean(0))
    np.testing.assert_allclose(ci.half_width, 2.0096 * x.std(0, ddof=1) / np.sqrt(50), rtol=1e-4)
    assert np.all(ci.low < ci.mean) and np.all(ci.mean < ci.high)
    # the table and the expansion meet at df = 30 / 31 (t_{0.975,31} = 2.0395)
    assert abs(G.metrics.t_quantile_975(31) - 2.0395) < 1e-3
    with pytest.raises(ValueError, match="number of runs: expected an integer >= 2"):
        G.mean_ci(np.ones(1))
