"""Games, mechanics and update directions: derivatives against finite differences,
special cases from the papers, and the public-boundary errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcourse import games as G


def random_quadratic(seed: int = 7) -> G.QuadraticGame:
    """Three players, player 0 owns two parameters: exercises general ``owner`` arrays."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(3, 4, 4))
    return G.QuadraticGame(
        M + np.swapaxes(M, 1, 2), rng.normal(size=(3, 4)), rng.normal(size=3), [0, 0, 1, 2], "q"
    )


GAMES = {
    "quadratic_owner_0012": random_quadratic(),
    "public_goods": G.public_goods(),
    "public_goods_3": G.public_goods(n=3, p=2.2),
    "prisoners_dilemma": G.prisoners_dilemma(),
    "stag_hunt": G.stag_hunt(),
    "matching_pennies": G.matching_pennies(),
    "tandem": G.tandem(),
    "cournot": G.cournot(),
    "cournot_3": G.cournot(n=3, a=8.0, b=0.5, c=2.0),
}
POTENTIAL = ["public_goods", "public_goods_3", "prisoners_dilemma", "stag_hunt"]
game_names = st.sampled_from(sorted(GAMES))
seeds = st.integers(0, 2**31 - 1)


def random_w(game: G.Game, seed: int, batch: int = 4, scale: float = 2.5) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-scale, scale, (batch, game.dim))


def fd_grads(game: G.Game, w: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of losses: (..., n, d)."""
    E = np.eye(game.dim) * h
    up = game.losses(w[..., None, :] + E)  # (..., d, n)
    dn = game.losses(w[..., None, :] - E)
    return np.swapaxes((up - dn) / (2 * h), -1, -2)


def fd_hessians(game: G.Game, w: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Second central differences of losses: (..., n, d, d)."""
    E = np.eye(game.dim) * h
    wk = w[..., None, None, :]
    pk, pm = E[:, None, :], E[None, :, :]
    f = game.losses
    out = (f(wk + pk + pm) - f(wk + pk - pm) - f(wk - pk + pm) + f(wk - pk - pm)) / (4 * h * h)
    return np.moveaxis(out, -1, -3)


@settings(max_examples=30, deadline=None)
@given(name=game_names, seed=seeds)
def test_grads_match_finite_differences(name: str, seed: int) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    np.testing.assert_allclose(game.grads(w), fd_grads(game, w), rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(name=game_names, seed=seeds)
def test_hessians_match_finite_differences(name: str, seed: int) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    H = game.hessians(w)
    assert H.shape == (4, game.n_players, game.dim, game.dim)
    np.testing.assert_allclose(H, fd_hessians(game, w), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(H, np.swapaxes(H, -1, -2), atol=1e-12)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_shapes_and_batch_axes(name: str) -> None:
    game = GAMES[name]
    n, d = game.n_players, game.dim
    w = random_w(game, 0, batch=6).reshape(2, 3, d)
    assert game.losses(w).shape == (2, 3, n)
    assert game.grads(w).shape == (2, 3, n, d)
    assert game.hessians(w).shape == (2, 3, n, d, d)
    assert game.actions(w).shape == (2, 3, d)
    np.testing.assert_allclose(game.rewards(w), -game.losses(w))
    # a batched call equals the row-by-row calls
    rows = np.stack([game.grads(x) for x in w.reshape(-1, d)])
    np.testing.assert_allclose(game.grads(w).reshape(rows.shape), rows)
    for f in G.METHODS.values():
        assert f(game, w).shape == (2, 3, d)


def test_public_goods_closed_form() -> None:
    game = G.public_goods(n=2, p=1.5)
    a = np.array([0.2, 0.7])
    w = np.log(a / (1 - a))
    r = game.rewards(w)
    np.testing.assert_allclose(r, [1 - 0.2 + 0.75 * 0.9, 1 - 0.7 + 0.75 * 0.9])
    np.testing.assert_allclose(game.actions(w), a)
    # Nash: every player gains by lowering its own contribution
    assert np.all(G.simultaneous_gradient(game, w) > 0)
    assert np.all(G.collective_gradient(game, w) < 0)


def test_matrix_game_rewards_are_expected_payoffs() -> None:
    game = G.prisoners_dilemma()
    p = np.array([0.3, 0.6])
    w = np.log(p / (1 - p))
    R1 = np.array([[3, 0], [5, 1]])
    x1, x2 = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    np.testing.assert_allclose(game.rewards(w), [x1 @ R1 @ x2, x2 @ R1 @ x1])


@settings(max_examples=25, deadline=None)
@given(name=game_names, seed=seeds)
def test_mechanics_consistent(name: str, seed: int) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    grads, hess = game.grads(w), game.hessians(w)
    xi = G.simultaneous_gradient(game, w)
    H = G.game_jacobian(game, w)
    for k in range(game.dim):
        i = game.owner[k]
        np.testing.assert_allclose(xi[:, k], grads[:, i, k])
        np.testing.assert_allclose(H[:, k, :], hess[:, i, k, :])
    # H is the Jacobian of xi: finite differences of xi
    h = 1e-5
    E = np.eye(game.dim) * h
    fd = (
        G.simultaneous_gradient(game, w[:, None, :] + E)
        - G.simultaneous_gradient(game, w[:, None, :] - E)
    ) / (2 * h)
    np.testing.assert_allclose(H, np.swapaxes(fd, -1, -2), rtol=1e-5, atol=1e-6)
    S, A = G.decompose(H)
    np.testing.assert_allclose(S + A, H)
    np.testing.assert_allclose(S, np.swapaxes(S, -1, -2))
    np.testing.assert_allclose(A, -np.swapaxes(A, -1, -2))
    np.testing.assert_allclose(G.collective_gradient(game, w), grads.sum(axis=1))
    np.testing.assert_allclose(G.collective_hessian(game, w), hess.sum(axis=1))


def test_potential_and_hamiltonian_games() -> None:
    for name in POTENTIAL:
        game = GAMES[name]
        _, A = G.decompose(G.game_jacobian(game, random_w(game, 1)))
        np.testing.assert_allclose(A, 0.0, atol=1e-12)
    w = random_w(G.matching_pennies(), 1)
    S, _ = G.decompose(G.game_jacobian(G.matching_pennies(), w))
    np.testing.assert_allclose(S, 0.0)
    # the collective loss of a zero-sum game is flat
    np.testing.assert_allclose(G.simul_co(G.matching_pennies(), w), 0.0)


@settings(max_examples=25, deadline=None)
@given(name=game_names, seed=seeds, lam=st.floats(-5, 5))
def test_aga_with_zero_lambda_is_simul_co(name: str, seed: int, lam: float) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    np.testing.assert_allclose(G.aga(game, w, lam=0.0), G.simul_co(game, w))
    np.testing.assert_allclose(G.aga_exact_sign(game, w, lam=0.0), G.simul_co(game, w))
    # the sign rule only uses |lam|
    np.testing.assert_allclose(G.aga(game, w, lam=lam), G.aga(game, w, lam=-lam))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(POTENTIAL), seed=seeds, lam=st.floats(-5, 5))
def test_sga_is_simul_ind_on_potential_games(name: str, seed: int, lam: float) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    np.testing.assert_allclose(G.sga(game, w, lam=lam), G.simul_ind(game, w), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, lam=st.floats(0.1, 3))
def test_sga_on_the_bilinear_game_is_consensus(seed: int, lam: float) -> None:
    # xi = (y, -x), A = H, A^T xi = (x, y) and <xi, H^T xi> = 0 so the sign is +.
    game = G.matching_pennies()
    w = random_w(game, seed)
    np.testing.assert_allclose(G.sga(game, w, lam=lam), G.consensus(game, w, gamma=lam))
    np.testing.assert_allclose(G.sga(game, w, lam=lam), w[:, ::-1] * [1, -1] + lam * w)


@settings(max_examples=25, deadline=None)
@given(name=game_names, seed=seeds)
def test_aga_direction_by_hand(name: str, seed: int) -> None:
    game = GAMES[name]
    w = random_w(game, seed)
    xi, xi_c = G.simultaneous_gradient(game, w), G.collective_gradient(game, w)
    g = np.einsum("bkm,bm->bk", G.collective_hessian(game, w), xi_c)
    got = G.aga(game, w, lam=0.7)
    for b in range(len(w)):
        s = np.dot(xi_c[b], g[b]) * (np.dot(xi[b], g[b]) + np.dot(g[b], g[b]))
        lam = 0.7 if s >= 0 else -0.7
        np.testing.assert_allclose(got[b], xi_c[b] + lam * (xi[b] + g[b]))


def cos2(u: np.ndarray, g: np.ndarray) -> np.ndarray:
    return (u @ g) ** 2 / ((u @ u) * (g @ g))


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=st.integers(2, 5))
def test_alignment_derivative_matches_finite_differences(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    xi_c, v, g = rng.normal(size=(3, d))
    h = 1e-6
    fd = (cos2(xi_c + h * v, g) - cos2(xi_c - h * v, g)) / (2 * h)
    np.testing.assert_allclose(G.alignment_derivative(xi_c, v, g), fd, rtol=1e-5, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=st.integers(2, 5))
def test_paper_sign_is_exact_when_xi_c_orthogonal_to_v(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    xi_c, v, g = rng.normal(size=(3, 8, d))
    v -= (np.sum(v * xi_c, -1) / np.sum(xi_c * xi_c, -1))[:, None] * xi_c
    xi = v - g
    np.testing.assert_array_equal(G.aga_sign(xi, xi_c, g), G.exact_alignment_sign(xi, xi_c, g))


@pytest.mark.parametrize("name", ["public_goods", "cournot", "stag_hunt"])
def test_aga_signs_of_a_game(name: str) -> None:
    game = GAMES[name]
    w = random_w(game, 11, batch=200)
    sc = G.aga_signs(game, w)
    xi, xi_c = G.simultaneous_gradient(game, w), G.collective_gradient(game, w)
    g = np.einsum("bkm,bm->bk", G.collective_hessian(game, w), xi_c)
    paper, paper_tie = G.aga_sign(xi, xi_c, g, return_ties=True)
    exact, exact_tie = G.exact_alignment_sign(xi, xi_c, g, return_ties=True)
    for got, want in zip(sc, (paper, exact, paper_tie, exact_tie), strict=True):
        np.testing.assert_array_equal(got, want)
    assert sc.paper_ties == paper_tie.sum() and sc.exact_ties == exact_tie.sum()
    ok = ~(paper_tie | exact_tie)
    if ok.any():
        assert sc.agreement == pytest.approx(np.mean(paper[ok] == exact[ok]))
    lam = np.where(exact > 0, 1.5, -1.5)[:, None]
    np.testing.assert_allclose(G.aga_exact_sign(game, w, lam=1.5), xi_c + lam * (xi + g))


def test_signs_break_ties_to_plus_and_report_them() -> None:
    z = np.zeros((3, 2))
    for fn in (G.aga_sign, G.exact_alignment_sign):
        s, tie = fn(z, z, z, return_ties=True)
        np.testing.assert_array_equal(s, 1.0)
        assert tie.all()
    np.testing.assert_array_equal(G.alignment_derivative(z, z, z), 0.0)
    s, tie = G.sga_sign(z, np.zeros((3, 2, 2)), return_ties=True)
    np.testing.assert_array_equal(s, 1.0)
    assert not tie.any()  # eps = 0.1 decides: 0 + 0.1 > 0
    s, tie = G.sga_sign(z, np.zeros((3, 2, 2)), eps=0.0, return_ties=True)
    assert tie.all() and (s == 1.0).all()


@pytest.mark.parametrize(("name", "lo", "hi"), [("cournot", 0.0, 5.0), ("cournot_3", 0.0, 5.0),
                                                 ("tandem", -3.0, 3.0)])  # fmt: skip
def test_exact_sign_is_a_tie_where_xi_c_is_parallel_to_grad_Hc(name, lo, hi) -> None:
    """Cournot and Tandem: l_c depends on sum(w) only, so xi_c || grad H_c and f'(0) = 0.

    The computed derivative is rounding noise of either sign; it must be reported as a tie
    (and so take the tie rule's +), while the paper's sign is decided at every point.
    """
    game = GAMES[name]
    w = np.random.default_rng(4).uniform(lo, hi, size=(2000, game.dim))
    sc = G.aga_signs(game, w)
    assert sc.exact_ties == len(w) and sc.paper_ties == 0
    assert np.isnan(sc.agreement)
    xi, xi_c = G.simultaneous_gradient(game, w), G.collective_gradient(game, w)
    g = G.hamiltonian_gradient(G.collective_hessian(game, w), xi_c)
    # the raw derivative is noise: tiny against its scale 4 |v| / |xi_c| ...
    fprime = G.alignment_derivative(xi_c, xi + g, g)
    scale = 4 * np.linalg.norm(xi + g, axis=-1) / np.linalg.norm(xi_c, axis=-1)
    assert np.abs(fprime).max() < 1e-9 * scale.max()
    # ... and with rtol = 0 the "exact sign" would be that noise: not all +1
    raw = G.exact_alignment_sign(xi, xi_c, g, rtol=0.0)
    assert not np.array_equal(raw, sc.exact) or np.all(fprime == 0)
    np.testing.assert_array_equal(sc.exact, 1.0)


def test_zero_sum_games_are_all_ties_for_aga() -> None:
    """xi_c = 0 in a zero-sum game: AgA's sign is the tie rule at every point, and reported."""
    game = GAMES["matching_pennies"]
    sc = G.aga_signs(game, random_w(game, 2, batch=50))
    assert sc.paper_ties == sc.exact_ties == 50


@pytest.mark.parametrize("name", sorted(GAMES))
def test_decided_signs_do_not_rest_on_rounding_noise(name: str) -> None:
    """Perturb the inputs by 1e-12 (relative): no sign that is not reported as a tie flips."""
    game = GAMES[name]
    rng = np.random.default_rng(8)
    w = random_w(game, 12, batch=500)
    xi, xi_c = G.simultaneous_gradient(game, w), G.collective_gradient(game, w)
    g = G.hamiltonian_gradient(G.collective_hessian(game, w), xi_c)
    H = G.game_jacobian(game, w)

    def jiggle(x: np.ndarray) -> np.ndarray:
        return x * (1 + 1e-12 * rng.standard_normal(x.shape))

    for fn in (G.aga_sign, G.exact_alignment_sign):
        s, tie = fn(xi, xi_c, g, return_ties=True)
        for _ in range(3):
            s2 = fn(jiggle(xi), jiggle(xi_c), jiggle(g))
            np.testing.assert_array_equal(s[~tie], s2[~tie])
    for eps in (0.1, 0.0):
        s, tie = G.sga_sign(xi, H, eps, return_ties=True)
        for _ in range(3):
            np.testing.assert_array_equal(s[~tie], G.sga_sign(jiggle(xi), jiggle(H), eps)[~tie])


def test_tie_rule_keeps_plus_and_counts_decided_points_only() -> None:
    sc = G.SignComparison(
        np.array([1.0, -1.0, 1.0, 1.0]),
        np.array([1.0, 1.0, 1.0, -1.0]),
        np.array([False, False, True, False]),
        np.array([False, False, False, True]),
    )
    assert (sc.paper_ties, sc.exact_ties) == (1, 1)
    np.testing.assert_array_equal(sc.decided, [True, True, False, False])
    assert sc.agreement == 0.5


@pytest.mark.parametrize("name", ["prisoners_dilemma", "quadratic_owner_0012", "public_goods_3"])
def test_lola_matches_finite_differences_of_lookahead_loss(name: str) -> None:
    game = GAMES[name]
    alpha = 0.3
    w = random_w(game, 3)
    other = (game.owner[None, :] != np.arange(game.n_players)[:, None]).astype(float)

    def lookahead(x: np.ndarray) -> np.ndarray:
        # L_i = l_i - alpha sum_{j != i} <grad_{w_j} l_i, grad_{w_j} l_j>
        cross = game.grads(x) * G.simultaneous_gradient(game, x)[..., None, :] * other
        return game.losses(x) - alpha * cross.sum(-1)

    h = 1e-5
    E = np.eye(game.dim) * h
    fd = (lookahead(w[:, None, :] + E) - lookahead(w[:, None, :] - E)) / (2 * h)  # (b, m, i)
    want = fd[:, np.arange(game.dim), game.owner]
    np.testing.assert_allclose(G.lola(game, w, alpha=alpha), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(G.lola(game, w, alpha=0.0), G.simul_ind(game, w))


def test_small_array_functions_agree_with_methods() -> None:
    game = G.tandem()
    w = random_w(game, 5)
    xi, H = G.simultaneous_gradient(game, w), G.game_jacobian(game, w)
    np.testing.assert_allclose(G.sga_direction(xi, H, 0.5), G.sga(game, w, lam=0.5))
    np.testing.assert_allclose(G.consensus_direction(xi, H, 0.2), G.consensus(game, w, gamma=0.2))
    xi_c, H_c = G.collective_gradient(game, w), G.collective_hessian(game, w)
    np.testing.assert_allclose(G.aga_direction(xi, xi_c, H_c, 2.0), G.aga(game, w, lam=2.0))
    np.testing.assert_allclose(
        G.aga_direction(xi, xi_c, H_c, 2.0, exact=True), G.aga_exact_sign(game, w, lam=2.0)
    )


def test_sigmoid_is_stable() -> None:
    s = G.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: G.public_goods().losses(np.zeros(3)), r"w: expected shape \(\.\.\., 2\)"),
        (lambda: G.public_goods().grads(np.array([0.0, np.nan])), "w: expected finite"),
        (lambda: G.tandem().hessians([[1.0, np.inf]]), "w: expected finite"),
        (lambda: G.aga(G.tandem(), "ab"), "w: expected an array of numbers"),
        (lambda: G.aga(G.tandem(), np.zeros(2), lam=np.nan), "lam: expected a finite"),
        (lambda: G.sga(G.tandem(), np.zeros(2), eps="x"), "eps: expected a real"),
        (lambda: G.consensus(G.tandem(), np.zeros(2), gamma=None), "gamma"),
        (lambda: G.simul_ind("tandem", np.zeros(2)), "game: expected"),
        (lambda: G.public_goods(p=2.0), r"p: expected a number in \(1.0, 2.0\)"),
        (lambda: G.public_goods(n=1), "n: expected an integer >= 2"),
        (lambda: G.cournot(a=1.0, c=2.0), "c: expected a marginal cost"),
        (lambda: G.matrix_game(np.zeros((3, 2))), r"R1: expected shape \(2, 2\)"),
        (lambda: G.get_method("agaa"), "method: expected one of"),
        (lambda: G.aga_sign(np.ones(2), np.ones(2), np.ones(2), rtol=-1), "rtol: expected"),
        (lambda: G.aga_signs(G.tandem(), np.ones(2), rtol="x"), "rtol: expected a real"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("name", ["stag_hunt", "public_goods", "public_goods_3"])
def test_a_mean_collective_loss_is_not_a_rescaled_lambda(name) -> None:
    """l_c / n: grad H_c shrinks by n^2 against xi, and the sign rule flips at some points."""
    game = GAMES[name]
    n = game.n_players
    w = np.random.default_rng(5).uniform(-3, 3, size=(5000, game.dim))
    xi, xi_c = G.simultaneous_gradient(game, w), G.collective_gradient(game, w)
    H_c = G.collective_hessian(game, w)
    g = G.hamiltonian_gradient(H_c, xi_c)
    np.testing.assert_allclose(G.hamiltonian_gradient(H_c / n, xi_c / n), g / n**2)
    s_sum, t1 = G.aga_sign(xi, xi_c, g, return_ties=True)
    s_mean, t2 = G.aga_sign(xi, xi_c / n, g / n**2, return_ties=True)
    flips = np.mean((s_sum != s_mean)[~(t1 | t2)])
    assert 0.01 < flips < 0.25
    mean_dir = G.aga_direction(xi, xi_c / n, H_c / n, 0.7)
    np.testing.assert_allclose(mean_dir, (xi_c + n * 0.7 * s_mean[:, None] * (xi + g / n**2)) / n)


def test_reported_aga_runs_do_not_rest_on_the_tie_rule() -> None:
    """The paper-sign AgA runs the lessons report (public goods, Cournot) never meet a tie, so
    their outcome is the same under either tie rule; exact-sign Cournot runs are all ties."""
    rng = np.random.default_rng(0)
    pgg, cour = G.public_goods(), G.cournot()
    runs = [
        (pgg, G.train(pgg, "aga", rng.uniform(-1, 1, (50, 2)), lr=1.0, steps=100, lam=1.0)),
        (cour, G.train(cour, "aga", rng.uniform(0, 5, (20, 2)), lr=0.05, steps=300, lam=0.5)),
    ]
    for game, tr in runs:
        sc = G.aga_signs(game, tr.w[:-1].reshape(-1, 2))
        assert sc.paper_ties == 0
    tr = G.train(cour, "aga_exact_sign", rng.uniform(0, 5, (5, 2)), lr=0.05, steps=50)
    sc = G.aga_signs(cour, tr.w[:-1].reshape(-1, 2))
    assert sc.exact_ties == sc.exact.size
