"""The games lessons' widgets, driven headlessly, and the lesson helpers."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse import games
from rlcourse.widgets import App, flow_explorer
from rlcourse.widgets.games import EXPLORER_GAMES, method_params


def _expected(app: App) -> games.Trajectory:
    c = app.controls
    g = EXPLORER_GAMES[c["game"].value]()
    params = method_params(c["method"].value, c["strength"].value)
    w0 = np.array([c["x0"].value, c["y0"].value])
    return games.train(g, c["method"].value, w0, lr=c["lr"].value, steps=c["steps"].value, **params)


def _assert_state_matches(app: App) -> None:
    tr = _expected(app)
    assert np.allclose(app.state["final_w"], tr.w[-1, 0])
    assert np.allclose(app.state["final_actions"], tr.final_actions[0])
    assert np.allclose(app.state["final_rewards"], tr.final_rewards[0])
    assert app.state["social_welfare"] == pytest.approx(tr.final_rewards[0].sum())
    assert app.state["diverged"] == bool(tr.diverged[0])
    assert app.state["trajectory"].steps == app.controls["steps"].value


def test_flow_explorer_responds_to_every_control():
    app = flow_explorer(game="bilinear", method="simul_ind", lr=0.1, start=(1.0, 0.0), steps=50)
    assert isinstance(app, App)
    _assert_state_matches(app)
    # simultaneous descent on the bilinear game spirals out: |w|^2 grows by 1 + lr^2 per step
    assert np.linalg.norm(app.state["final_w"]) == pytest.approx(1.01**25, rel=1e-9)
    assert app.state["params"] == {}

    app.controls["method"].value = "sga"
    assert app.state["method"] == "sga" and app.state["params"] == {"lam": 1.0}
    _assert_state_matches(app)
    assert np.linalg.norm(app.state["final_w"]) < 1.0  # SGA pulls in

    app.controls["strength"].value = 0.3
    assert app.state["params"] == {"lam": 0.3}
    _assert_state_matches(app)

    app.controls["lr"].value = 0.05
    assert app.state["lr"] == pytest.approx(0.05, rel=1e-6)
    _assert_state_matches(app)

    app.controls["steps"].value = 120
    assert app.state["steps"] == 120 and app.state["trajectory"].w.shape == (121, 1, 2)
    _assert_state_matches(app)

    app.controls["x0"].value = -2.0
    app.controls["y0"].value = 1.5
    assert np.allclose(app.state["w0"], [-2.0, 1.5])
    assert np.allclose(app.state["trajectory"].w[0, 0], [-2.0, 1.5])
    _assert_state_matches(app)

    app.controls["game"].value = "public goods"
    app.controls["method"].value = "aga"
    app.controls["lr"].value = 1.0
    app.controls["strength"].value = 1.0
    _assert_state_matches(app)
    assert app.state["game"].name.startswith("public goods")
    assert app.state["final_actions"].min() > 0.9  # AgA reaches the optimum
    app.controls["method"].value = "simul_ind"
    assert app.state["final_actions"].max() < 0.5  # selfish descent heads for Nash

    app.controls["method"].value = "consensus"
    assert app.state["params"] == {"gamma": 1.0}
    app.controls["method"].value = "lola"
    assert app.state["params"] == {"alpha": 1.0}
    _assert_state_matches(app)
    fig = app.state["figure"]
    assert len(fig.axes) >= 3 and fig.axes[0].get_xlabel().startswith("player 1")


def test_flow_explorer_every_game_and_divergence():
    app = flow_explorer(game="Cournot", method="aga", strength=1.0, lr=0.05, start=(1.0, 3.0))
    app.controls["steps"].value = 400
    assert not app.state["diverged"]
    assert "runs away" in app.state["figure"].axes[0].get_title()
    app.controls["steps"].value = 1000
    _assert_state_matches(app)
    assert app.state["diverged"] and app.state["diverged_at"] > 0
    assert "diverged" in app.state["figure"].axes[0].get_title()
    for name in EXPLORER_GAMES:
        app.controls["game"].value = name
        assert app.state["game"].name == EXPLORER_GAMES[name]().name
        _assert_state_matches(app)


def test_strength_slider_says_what_it_sets_for_each_method():
    from rlcourse.widgets.games import STRENGTH_LABELS, strength_label

    app = flow_explorer(game="bilinear", method="sga", steps=5)
    slider = app.controls["strength"]
    assert "|λ|" in slider.description and "γ" not in slider.description
    for method, key in [("consensus", "gamma"), ("lola", "alpha"), ("aga", "lam"),
                        ("simul_ind", None), ("aga_exact_sign", "lam")]:  # fmt: skip
        app.controls["method"].value = method
        assert slider.description == STRENGTH_LABELS[key] == strength_label(method)
        assert app.state["params"] == method_params(method, slider.value)
    assert "unused" in strength_label("simul_co")
    with pytest.raises(ValueError, match="method"):
        strength_label("adam")


def test_explorer_axis_labels_use_subscripts():
    app = flow_explorer(game="public goods", method="aga", lr=1.0, steps=5)
    landscapes = app.state["figure"].axes[1:3]  # axes[0] is plots.vector_field's
    for ax in landscapes:
        assert ax.get_xlabel().endswith("$a_1$") and ax.get_ylabel().endswith("$a_2$")
    assert [ax.get_title() for ax in landscapes] == [
        "player 1's reward $r_1$",
        "player 2's reward $r_2$",
    ]


def test_flow_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="game"):
        flow_explorer(game="chess")
    with pytest.raises(ValueError, match="method"):
        flow_explorer(method="adam")
    with pytest.raises(ValueError, match="method"):
        method_params("adam", 1.0)


def test_public_goods_explorer_responds_to_every_control():
    from rlcourse.widgets import public_goods_explorer

    game = games.public_goods()
    app = public_goods_explorer(method="aga", strength=1.0, lr=1.0, runs=20, steps=60, seed=3)

    def expected() -> games.Trajectory:
        c = app.controls
        w0 = np.random.default_rng(c["seed"].value).uniform(-1, 1, (c["runs"].value, 2))
        params = method_params(c["method"].value, c["strength"].value)
        return games.train(
            game, c["method"].value, w0, lr=c["lr"].value, steps=c["steps"].value, **params
        )

    def check() -> None:
        tr = expected()
        assert np.allclose(app.state["final_actions"], tr.final_actions)
        sw = games.mean_ci(tr.final_rewards.sum(-1))
        assert app.state["sw"].mean == pytest.approx(sw.mean)
        assert app.state["sw"].half_width == pytest.approx(sw.half_width)
        eq = games.mean_ci(games.equality(tr.final_rewards))
        assert app.state["equality"].mean == pytest.approx(eq.mean)
        s90 = games.steps_to_fraction(tr.social_welfare, 2.0, 3.0, 0.9)
        assert np.array_equal(app.state["steps_to_90"], s90)
        assert app.state["reached"] == pytest.approx(np.mean(s90 >= 0))

    check()
    assert app.state["reached"] == 1.0
    aga_steps = app.state["steps_to_90"].mean()
    app.controls["method"].value = "simul_co"
    check()
    assert app.state["params"] == {} and app.state["steps_to_90"].mean() > aga_steps
    app.controls["method"].value = "simul_ind"
    check()
    assert app.state["reached"] == 0.0  # selfish descent never gets near the optimum
    app.controls["method"].value = "aga"
    app.controls["strength"].value = 10.0
    check()
    assert app.state["params"] == {"lam": 10.0} and app.state["steps_to_90"].mean() < aga_steps
    app.controls["lr"].value = 0.1
    check()
    app.controls["runs"].value = 7
    check()
    assert app.state["final_actions"].shape == (7, 2)
    app.controls["steps"].value = 30
    check()
    assert app.state["trajectory"].steps == 30
    before = app.state["w0"].copy()
    app.controls["seed"].value = 11
    check()
    assert not np.allclose(app.state["w0"], before)
    assert app.state["figure"].axes[1].get_xlabel() == "step $t$"


@pytest.mark.parametrize(
    "rule",
    [
        lambda a, b, c: -np.where(a * (b + c) >= 0, 1.0, -1.0),  # flipped
        lambda a, b, c: np.where(a * b >= 0, 1.0, -1.0),  # the |grad H_c|^2 term forgotten
        lambda a, b, c: np.where(a * (b + c) / 3 + 0.1 >= 0, 1.0, -1.0),  # SGA-style epsilon
        lambda a, b, c: np.ones_like(a),  # no sign rule
    ],
    ids=["flipped", "missing-norm", "sga-style", "always-plus"],
)
def test_a_wrong_aga_sign_is_caught_with_a_message_about_the_sign_rule(rule):
    from rlcourse.exercises import Status, lesson08

    def aga_direction(xi, xi_c, H_c, lam):
        g = np.einsum("...km,...m->...k", H_c, xi_c)
        a, b, c = ((xi_c * g).sum(-1), (xi * g).sum(-1), (g * g).sum(-1))
        return xi_c + (abs(lam) * rule(a, b, c))[..., None] * (xi + g)

    def aga_sign(xi, xi_c, grad_Hc):
        g = grad_Hc
        return rule((xi_c * g).sum(-1), (xi * g).sum(-1), (g * g).sum(-1))

    r = lesson08.q3.check(aga_direction, record=False)
    assert r.status is Status.INCORRECT
    assert "matches with the opposite λ sign" in r.message and lesson08.SIGN_RULE in r.message
    r = lesson08.q2.check(aga_sign, record=False)
    assert r.status is Status.INCORRECT and lesson08.SIGN_RULE in r.message


# ---- plausible mistakes are caught with a message that names them ---------------------------


def _np_sign_aga(xi, xi_c, grad_Hc):
    a = (xi_c * grad_Hc).sum(-1)
    return np.sign(a * ((xi * grad_Hc).sum(-1) + (grad_Hc * grad_Hc).sum(-1)))


def test_np_sign_in_the_aga_sign_is_caught_on_a_zero_sum_game():
    from rlcourse.exercises import Status, lesson08

    r = lesson08.q2.check(_np_sign_aga, record=False)
    assert r.status is Status.INCORRECT
    assert "np.sign" in r.message and "zero-sum" in r.message

    def aga_direction(xi, xi_c, H_c, lam):
        g = np.einsum("...km,...m->...k", H_c, xi_c)
        return xi_c + (abs(lam) * _np_sign_aga(xi, xi_c, g))[..., None] * (xi + g)

    r = lesson08.q3.check(aga_direction, record=False)
    assert r.status is Status.INCORRECT
    assert "np.sign" in r.message and "λ = 0" in r.message


def test_a_missing_adjustment_is_not_blamed_on_np_sign():
    from rlcourse.exercises import Status, lesson08

    r = lesson08.q3.check(lambda xi, xi_c, H_c, lam: xi_c.copy(), record=False)
    assert r.status is Status.INCORRECT
    assert "np.sign" not in r.message and "missing" in r.message


def test_a_b_plus_c_bracketing_is_named():
    from rlcourse.exercises import Status, lesson08

    def aga_sign(xi, xi_c, grad_Hc):
        a, b = (xi_c * grad_Hc).sum(-1), (xi * grad_Hc).sum(-1)
        return np.where(a * b + (grad_Hc * grad_Hc).sum(-1) >= 0, 1.0, -1.0)

    r = lesson08.q2.check(aga_sign, record=False)
    assert r.status is Status.INCORRECT and "a·b + c" in r.message and "a·(b + c)" in r.message


def test_np_sign_in_the_sga_sign_is_caught_with_a_tie():
    from rlcourse.exercises import Status, lesson07

    def sga_sign(xi, H, eps=0.1):
        Ht_xi = np.einsum("...km,...k->...m", H, xi)
        At_xi = 0.5 * (Ht_xi - np.einsum("...km,...m->...k", H, xi))
        p = (xi * Ht_xi).sum(-1) * (At_xi * Ht_xi).sum(-1)
        return np.sign(p / xi.shape[-1] + eps)

    r = lesson07.q3.check(sga_sign, record=False)
    assert r.status is Status.INCORRECT and "np.sign" in r.message and "+1" in r.message


def test_sga_direction_without_abs_is_caught_and_named():
    from rlcourse.exercises import Status, lesson07

    def sga_direction(xi, H, lam, eps=0.1):
        Ht_xi = np.einsum("...km,...k->...m", H, xi)
        At_xi = 0.5 * (Ht_xi - np.einsum("...km,...m->...k", H, xi))
        return xi + (lam * games.sga_sign(xi, H, eps))[..., None] * At_xi

    r = lesson07.q4.check(sga_direction, record=False)
    assert r.status is Status.INCORRECT and "abs(" in r.message


def test_sign_exercise_cases_sit_on_ties_only_where_the_value_is_exactly_zero():
    """A student's `>= 0` and the library's tie rule agree on every case: no point is within
    rounding of zero unless it is exactly zero (then both say +1)."""
    from rlcourse.exercises import lesson07, lesson08

    rngs = [np.random.default_rng(q.seed) for q in (lesson08.q2, lesson08.q3)]
    cases = [c for rng in rngs for c in lesson08._aga_cases(rng)]
    for note, (xi, xi_c, H_c) in cases:
        g = games.hamiltonian_gradient(H_c, xi_c)
        _, near = games.aga_sign(xi, xi_c, g, rtol=1e-6, return_ties=True)
        prod = np.einsum("...k,...k", xi_c, g) * (
            np.einsum("...k,...k", xi, g) + np.einsum("...k,...k", g, g)
        )
        assert np.all(near == (prod == 0)), note
    for case in lesson07.q3.cases(np.random.default_rng(lesson07.q3.seed)):
        xi, H, eps = case.args
        _, near = games.sga_sign(xi, H, eps, rtol=1e-6, return_ties=True)
        assert not near.any() or eps == 0.0, case.note
