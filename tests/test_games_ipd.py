"""The memory-1 iterated prisoner's dilemma: values, exact derivatives, and what it shows."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse import games as G


def _power_series_values(game: G.IteratedPrisonersDilemma, w: np.ndarray) -> np.ndarray:
    """``(1 - gamma) sum_t gamma^t p0^T P^t r_i`` summed term by term (no matrix inverse)."""
    x = G.sigmoid(w)
    p0, P, _, _ = game._chain(x)
    V, d = np.zeros(2), p0.copy()
    for t in range(4000):
        V += game.gamma**t * game.r @ d
        d = d @ P
    return (1 - game.gamma) * V


@pytest.mark.parametrize("gamma", [0.5, 0.96])
def test_values_match_the_power_series(gamma: float) -> None:
    game = G.iterated_prisoners_dilemma(gamma=gamma)
    w = np.random.default_rng(0).normal(size=(4, 10))
    r = game.rewards(w)
    for b in range(4):
        np.testing.assert_allclose(r[b], _power_series_values(game, w[b]), rtol=1e-10)
    occ = game.occupancy(w)
    np.testing.assert_allclose(occ.sum(-1), 1.0)
    np.testing.assert_allclose(r, occ @ game.r.T)  # per-round reward = occupancy . payoffs


def test_pure_strategies_give_the_payoff_table() -> None:
    game = G.iterated_prisoners_dilemma()
    big = 40.0
    always_c, always_d = np.full(5, big), np.full(5, -big)
    np.testing.assert_allclose(game.rewards(np.r_[always_c, always_c]), [3.0, 3.0])
    np.testing.assert_allclose(game.rewards(np.r_[always_d, always_d]), [1.0, 1.0])
    np.testing.assert_allclose(game.rewards(np.r_[always_c, always_d]), [0.0, 5.0], atol=1e-12)
    # tit-for-tat (cooperate first, then copy the opponent's last move) against itself cooperates;
    # own-view states are (CC, CD, DC, DD): copy the opponent = cooperate after CC and DC
    tft = np.array([big, big, -big, big, -big])
    np.testing.assert_allclose(game.rewards(np.r_[tft, tft]), [3.0, 3.0])
    np.testing.assert_allclose(game.cooperation_rate(np.r_[tft, tft]), [1.0, 1.0])
    # TFT against always-defect: exploited once, then mutual defection
    g = game.gamma
    np.testing.assert_allclose(
        game.rewards(np.r_[tft, always_d]), [g * 1, (1 - g) * 5 + g * 1], atol=1e-12
    )


def test_gradients_and_hessians_match_finite_differences() -> None:
    game = G.iterated_prisoners_dilemma(gamma=0.9)
    w = np.random.default_rng(1).normal(size=(3, 10))
    h = 1e-5
    E = np.eye(10)
    g_fd = np.stack([(game.losses(w + h * e) - game.losses(w - h * e)) / (2 * h) for e in E], -1)
    np.testing.assert_allclose(game.grads(w), g_fd, atol=1e-8)
    H = game.hessians(w)
    H_fd = np.stack([(game.grads(w + h * e) - game.grads(w - h * e)) / (2 * h) for e in E], -1)
    np.testing.assert_allclose(H, H_fd, atol=1e-8)
    np.testing.assert_allclose(H, np.swapaxes(H, -1, -2), atol=1e-14)


def test_not_a_potential_game_A_is_nonzero() -> None:
    game = G.iterated_prisoners_dilemma()
    w = np.random.default_rng(2).normal(size=(20, 10))
    _, A = G.decompose(G.game_jacobian(game, w))
    assert np.all(np.abs(A).max(axis=(-1, -2)) > 1e-3)
    # so SGA differs from Simul-Ind, and LOLA's look-ahead is not zero
    assert np.abs(G.sga(game, w) - G.simul_ind(game, w)).max() > 1e-3
    assert np.abs(G.lola(game, w) - G.simul_ind(game, w)).max() > 1e-3


def test_player_two_sees_the_mirror_game() -> None:
    game = G.iterated_prisoners_dilemma()
    w = np.random.default_rng(3).normal(size=(5, 10))
    swapped = np.concatenate([w[:, 5:], w[:, :5]], axis=1)
    np.testing.assert_allclose(game.rewards(swapped), game.rewards(w)[:, ::-1])
    np.testing.assert_allclose(game.cooperation_rate(swapped), game.cooperation_rate(w)[:, ::-1])


def test_naive_learners_defect_simul_co_cooperates() -> None:
    game = G.iterated_prisoners_dilemma()
    w0 = np.random.default_rng(0).normal(size=(20, 10))
    ind = G.train(game, "simul_ind", w0, lr=3.0, steps=200)
    co = G.train(game, "simul_co", w0, lr=3.0, steps=200)
    assert game.cooperation_rate(ind.w[-1]).max() < 0.1
    assert game.cooperation_rate(co.w[-1]).min() > 0.9


@pytest.mark.parametrize("gamma", [0.0, 1.0, -0.5, 2.0, float("nan"), "high"])
def test_gamma_is_validated(gamma: object) -> None:
    with pytest.raises(ValueError, match="gamma: expected a number in"):
        G.iterated_prisoners_dilemma(gamma=gamma)  # type: ignore[arg-type]


def test_payoffs_are_validated() -> None:
    with pytest.raises(ValueError, match="R1"):
        G.iterated_prisoners_dilemma(R1=np.ones(3))
    with pytest.raises(ValueError, match=r"w: expected shape \(\.\.\., 10\)"):
        G.iterated_prisoners_dilemma().losses(np.zeros(2))
