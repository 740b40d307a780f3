"""The trainer's lean AgA path equals the generic one: ``Game._aga_terms`` (one sigmoid, no
per-player Hessians) gives the same ``(xi, xi_c, grad H_c)`` as the players' gradients and
Hessians, and ``train`` gives the same runs as stepping with ``methods.aga`` by hand, keeping
every step or only the end."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse import games as G
from rlcourse.games.base import Game
from rlcourse.games.mechanics import hamiltonian_gradient, xi_from_grads

GAMES = {
    "public_goods": G.public_goods(),
    "public_goods_n5": G.public_goods(n=5, p=2.5),
    "prisoners_dilemma": G.prisoners_dilemma(),
    "stag_hunt": G.stag_hunt(),
    "matching_pennies": G.matching_pennies(),
    "tandem": G.tandem(),
    "cournot_n3": G.cournot(n=3),
}


@pytest.mark.parametrize("name", list(GAMES))
def test_aga_terms_equal_the_players_gradients_and_hessians(name: str) -> None:
    game = GAMES[name]
    w = np.random.default_rng(0).normal(scale=2.0, size=(6, 3, game.dim))
    grads, hessians = game.grads(w), game.hessians(w)
    xi_c = grads.sum(axis=-2)
    want = (
        xi_from_grads(grads, game.owner),
        xi_c,
        hamiltonian_gradient(hessians.sum(axis=-3), xi_c),
    )
    for got, expect in zip(game._aga_terms(w), want, strict=True):
        assert got.shape == expect.shape
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["aga", "aga_exact_sign"])
@pytest.mark.parametrize(
    "name, lr, lam",
    [
        ("public_goods", 1.0, 1.0),
        ("public_goods_n5", 0.5, 3.0),
        ("prisoners_dilemma", 0.5, 1.0),
        ("stag_hunt", 0.5, 2.0),
        ("matching_pennies", 0.05, 1.0),
        ("tandem", 0.02, 0.5),
    ],
)
def test_train_equals_stepping_methods_by_hand(method: str, name: str, lr: float, lam: float):
    game, fn = GAMES[name], G.METHODS[method]
    w0 = np.random.default_rng(3).uniform(-1, 1, (40, game.dim))
    tr = G.train(game, method, w0, lr=lr, steps=60, lam=lam)
    w = w0.copy()
    for t in range(61):
        np.testing.assert_allclose(tr.w[t], w, rtol=0, atol=1e-12)
        w = w - lr * fn(game, w, lam=lam)
    np.testing.assert_allclose(tr.rewards, game.rewards(tr.w), rtol=0, atol=1e-12)
    final = G.train(game, method, w0, lr=lr, steps=60, lam=lam, keep="final")
    assert final.w.shape == (2, 40, game.dim) and final.steps == 60 and tr.steps == 60
    np.testing.assert_array_equal(final.w[0], w0)
    np.testing.assert_array_equal(final.w[-1], tr.w[-1])
    np.testing.assert_array_equal(final.final_rewards, tr.final_rewards)
    np.testing.assert_array_equal(final.diverged, tr.diverged)


def test_divergence_guard_is_the_same_with_both_keeps() -> None:
    game = G.cournot()
    w0 = np.random.default_rng(0).uniform(0, 5, (20, 2))
    full = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=1.0)
    final = G.train(game, "aga", w0, lr=0.05, steps=1000, lam=1.0, keep="final")
    assert full.diverged.all()
    np.testing.assert_array_equal(final.diverged_at, full.diverged_at)
    np.testing.assert_array_equal(final.w[-1], full.w[-1])
    # and the frozen points are those of the generic step
    w, frozen = w0.copy(), np.zeros(20, dtype=bool)
    for _ in range(1000):
        with np.errstate(all="ignore"):
            new = w - 0.05 * G.aga(game, w, lam=1.0)
        frozen |= ~np.isfinite(new).all(-1) | (np.abs(new).max(-1) > 1e6)
        w = np.where(frozen[:, None], w, new)
    np.testing.assert_allclose(full.w[-1], w, rtol=1e-12, atol=0)


def test_a_game_without_its_own_terms_uses_the_generic_ones() -> None:
    class Plain(Game):  # l_1 = x^2 y, l_2 = x y^2
        def __init__(self) -> None:
            super().__init__(2, np.arange(2), "plain")

        def _losses(self, w):
            x, y = w[..., 0], w[..., 1]
            return np.stack([x * x * y, x * y * y], axis=-1)

        def _grads(self, w):
            x, y = w[..., 0], w[..., 1]
            return np.stack(
                [np.stack([2 * x * y, x * x], -1), np.stack([y * y, 2 * x * y], -1)], -2
            )

        def _hessians(self, w):
            x, y = w[..., 0], w[..., 1]
            h1 = np.stack([np.stack([2 * y, 2 * x], -1), np.stack([2 * x, 0 * x], -1)], -2)
            h2 = np.stack([np.stack([0 * x, 2 * y], -1), np.stack([2 * y, 2 * x], -1)], -2)
            return np.stack([h1, h2], -3)

    game = Plain()
    w0 = np.random.default_rng(1).uniform(-0.5, 0.5, (10, 2))
    tr = G.train(game, "aga", w0, lr=0.01, steps=20, lam=1.0)
    w = w0.copy()
    for _ in range(20):
        w = w - 0.01 * G.aga(game, w, lam=1.0)
    np.testing.assert_allclose(tr.w[-1], w, rtol=0, atol=1e-12)


def test_keep_must_be_named() -> None:
    with pytest.raises(ValueError, match="keep: expected 'trajectory' or 'final', got 'all'"):
        G.train(G.public_goods(), "aga", np.zeros((2, 2)), lr=0.1, steps=2, keep="all")
