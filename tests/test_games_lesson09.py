"""Lesson 09: the alignment claim, its counterexample and the checks that must accept every
correct formulation (and no claim resting on ties)."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse import games
from rlcourse.exercises import Status, lesson09

# ---- every correct way to write sign_agreement (09.q3) passes ------------------------------


def _terms(game, w):
    xi = games.simultaneous_gradient(game, w)
    xi_c = games.collective_gradient(game, w)
    return xi, xi_c, games.hamiltonian_gradient(games.collective_hessian(game, w), xi_c)


def _student_q1(xi_c, v, grad_Hc):
    """The notebook's accepted q1 answer, as a student would reuse it."""
    xg = (xi_c * grad_Hc).sum(-1)
    xx = (xi_c * xi_c).sum(-1)
    gg = (grad_Hc * grad_Hc).sum(-1)
    num = 2 * xg * ((v * grad_Hc).sum(-1) * xx - xg * (xi_c * v).sum(-1))
    den = xx**2 * gg
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _cos2(u, g):
    return (u * g).sum(-1) ** 2 / ((u * u).sum(-1) * (g * g).sum(-1))


def agreement_reusing_q1(game, w):
    xi, xi_c, g = _terms(game, w)
    paper = games.aga_sign(xi, xi_c, g)
    return float(np.mean(paper == np.where(_student_q1(xi_c, xi + g, g) >= 0, 1.0, -1.0)))


def agreement_np_sign(game, w):
    xi, xi_c, g = _terms(game, w)
    return float(np.mean(games.aga_sign(xi, xi_c, g) == np.sign(_student_q1(xi_c, xi + g, g))))


def agreement_central_differences(game, w):
    xi, xi_c, g = _terms(game, w)
    h = 1e-6
    fd = (_cos2(xi_c + h * (xi + g), g) - _cos2(xi_c - h * (xi + g), g)) / (2 * h)
    return float(np.mean(games.aga_sign(xi, xi_c, g) == np.where(fd > 0, 1.0, -1.0)))


def agreement_forward_differences(game, w):
    xi, xi_c, g = _terms(game, w)
    h = 1e-7
    fd = (_cos2(xi_c + h * (xi + g), g) - _cos2(xi_c, g)) / h
    return float(np.mean(games.aga_sign(xi, xi_c, g) == np.where(fd >= 0, 1.0, -1.0)))


def agreement_normalised_vectors(game, w):
    xi, xi_c, g = _terms(game, w)
    v = xi + g

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    xc, vv, gg = unit(xi_c), unit(v), unit(g)
    exact = np.sign((xc * gg).sum(-1) * ((vv * gg).sum(-1) - (xc * gg).sum(-1) * (xc * vv).sum(-1)))
    paper = np.sign((xc * gg).sum(-1) * (vv * gg).sum(-1))
    return float(np.mean(paper == exact))


def agreement_explicit_loop(game, w):
    hits = 0
    for point in w:
        xi, xi_c, g = _terms(game, point)
        a, c = xi_c @ g, (xi + g) @ g
        e = c * (xi_c @ xi_c) - a * (xi_c @ (xi + g))
        hits += np.sign(a * c) == np.sign(a * e)
    return hits / len(w)


def agreement_library(game, w):
    return games.aga_signs(game, w).agreement


@pytest.mark.parametrize(
    "answer",
    [
        agreement_reusing_q1,
        agreement_np_sign,
        agreement_central_differences,
        agreement_forward_differences,
        agreement_normalised_vectors,
        agreement_explicit_loop,
        agreement_library,
    ],
)
def test_q3_accepts_every_correct_formulation(answer):
    r = lesson09.q3.check(answer, record=False)
    assert r.status is Status.CORRECT, r.message


def test_q3_cases_are_clear_of_ties():
    for case in lesson09.q3.cases(np.random.default_rng(lesson09.q3.seed)):
        game, w = case.args
        sc = games.aga_signs(game, w, rtol=lesson09.CASE_MARGIN)
        assert sc.paper_ties == sc.exact_ties == 0, case.note


def test_q3_names_the_a_b_plus_c_bracketing_is_wrong():
    r = lesson09.q3.check(lesson09._agreement_a_b_plus_c, record=False)
    assert r.status is Status.INCORRECT


# ---- q4: the counterexample, in every formulation -----------------------------------------


def misaligns_product(xi, xi_c, grad_Hc):
    return games.aga_sign(xi, xi_c, grad_Hc) * _student_q1(xi_c, xi + grad_Hc, grad_Hc) < 0


def misaligns_signs_differ(xi, xi_c, grad_Hc):
    return games.aga_sign(xi, xi_c, grad_Hc) != games.exact_alignment_sign(xi, xi_c, grad_Hc)


def misaligns_finite_change(xi, xi_c, grad_Hc):
    lam = 1e-6 * np.linalg.norm(xi_c, axis=-1) / np.linalg.norm(xi + grad_Hc, axis=-1)
    lam = lam * games.aga_sign(xi, xi_c, grad_Hc)
    return lesson09.cos2_change(xi_c, xi + grad_Hc, grad_Hc, lam[..., None]) < 0


@pytest.mark.parametrize(
    "answer", [misaligns_product, misaligns_signs_differ, misaligns_finite_change]
)
def test_q4_accepts_every_correct_formulation(answer):
    r = lesson09.q4.check(answer, record=False)
    assert r.status is Status.CORRECT, r.message


def test_q4_inverted_answer_gets_a_message_that_says_so():
    r = lesson09.q4.check(lambda *a: ~lesson09.paper_sign_misaligns(*a), record=False)
    assert r.status is Status.INCORRECT and "inverted" in r.message


# ---- the counterexample itself --------------------------------------------------------------


def test_side_payment_game_has_the_stated_collective_loss_and_a_nonzero_xi():
    game = lesson09.side_payment_game()
    w = np.random.default_rng(0).normal(size=(20, 2))
    lc = game.losses(w).sum(-1)
    np.testing.assert_allclose(lc, 0.5 * (w[:, 0] ** 2 + 3 * w[:, 1] ** 2))
    np.testing.assert_allclose(games.collective_hessian(game, np.zeros(2)), np.diag([1.0, 3.0]))
    np.testing.assert_allclose(games.simultaneous_gradient(game, np.zeros(2)), [1.0, -1.0])


@pytest.mark.parametrize("radius", [1e-1, 1e-2, 1e-3, 1e-4])
def test_about_four_in_ten_directions_are_counterexamples_at_every_radius(radius):
    """The claim as stated fails near a stable fixed point of l_c, at every radius.

    Measured by the first-order derivative and confirmed by a finite change of cos^2."""
    game = lesson09.side_payment_game()
    angles = np.random.default_rng(1).uniform(0, 2 * np.pi, 4000)
    w = radius * np.stack([np.cos(angles), np.sin(angles)], -1)
    xi, xi_c, g = _terms(game, w)
    assert ((xi_c * g).sum(-1) > 0).all()  # near a stable point: cos > 0 everywhere
    bad = lesson09.paper_sign_misaligns(xi, xi_c, g)
    assert 0.38 < bad.mean() < 0.50
    clear = lesson09.clear_of_ties(xi, xi_c, g)
    lam = 1e-4 * radius * games.aga_sign(xi, xi_c, g)
    finite = lesson09.cos2_change(xi_c, xi + g, g, lam[:, None]) < 0
    np.testing.assert_array_equal(finite[clear], bad[clear])
    # with the exact sign no direction is less aligned (to first order)
    lam_exact = games.exact_alignment_sign(xi, xi_c, g)
    assert (lam_exact * games.alignment_derivative(xi_c, xi + g, g) >= 0).all()


def test_paper_sign_equals_exact_sign_when_xi_c_orthogonal_to_v():
    rng = np.random.default_rng(3)
    xi_c, v, g = rng.normal(size=(3, 500, 4))
    v -= ((v * xi_c).sum(-1) / (xi_c * xi_c).sum(-1))[:, None] * xi_c
    xi = v - g
    assert not lesson09.paper_sign_misaligns(xi, xi_c, g).any()
