"""The games of the course, each with closed-form losses, gradients and Hessians.

Players own one parameter each (``d = n``, ``owner = [0, 1, ..., n-1]``).

The paper's 2-D toy (``l_1 = -sin(a_1 a_2 + a_2^2)``,
``l_2 = -cos(1 + a_1 - (1 + a_2)^2 + a_1 a_2^2)``) is left out on purpose: implemented with
closed-form derivatives and run from 200 seeded initialisations in ``[-1, 1]^2`` (lr 0.01,
1000 steps) it did not show what the paper describes. Simul-Co reached ``r_1 = r_2 = 1``
(it does not ignore player 1), AgA with ``|lambda| = 1`` ended with a lower mean social
welfare than Simul-Co (1.95 vs 2.00) and diverged in 2.5% of runs, ``|lambda| = 5`` in 23%.
"""

from __future__ import annotations

import numpy as np

from rlcourse._validate import as_array, check_int, check_open_interval, check_positive
from rlcourse.games.base import Game, QuadraticGame, SigmoidGame

__all__ = [
    "MatrixGame",
    "PublicGoods",
    "cournot",
    "matching_pennies",
    "matrix_game",
    "nonnegative",
    "prisoners_dilemma",
    "public_goods",
    "stag_hunt",
    "tandem",
]


class PublicGoods(SigmoidGame):
    """n-player public goods game: ``r_i = 1 - a_i + (p/n) sum_j a_j``, ``a = sigma(w)``.

    With ``1 < p < n`` contributing costs each player ``1 - p/n > 0`` (Nash: ``a = 0``, social
    welfare ``n``) but raises social welfare by ``p - 1`` (optimum: ``a = 1``, welfare ``p n``).
    """

    def __init__(self, n: int = 2, p: float = 1.5) -> None:
        n = check_int("n", n, low=2)
        self.p = check_open_interval("p", p, 1.0, float(n))
        super().__init__(n, f"public goods (n={n}, p={self.p:g})")
        self.nash_actions = np.zeros(n)
        self.optimum_actions = np.ones(n)
        self.nash_welfare = float(n)
        self.optimum_welfare = self.p * n

    def _f(self, a: np.ndarray) -> np.ndarray:
        n, p = self.n_players, self.p
        return a - 1.0 - (p / n) * a.sum(axis=-1, keepdims=True)

    def _df(self, a: np.ndarray) -> np.ndarray:
        n, p = self.n_players, self.p
        J = np.eye(n) - p / n
        return np.broadcast_to(J, a.shape[:-1] + (n, n))

    def _d2f(self, a: np.ndarray) -> np.ndarray:
        n = self.n_players
        return np.broadcast_to(np.zeros((n, n, n)), a.shape[:-1] + (n, n, n))


class MatrixGame(SigmoidGame):
    """Two-player 2x2 matrix game; ``p_i = sigma(w_i)`` is the probability of action 0.

    ``R[i]`` is player ``i``'s reward matrix indexed ``[action of player 1, action of
    player 2]``; ``r_i = x_1^T R_i x_2`` with ``x_i = (p_i, 1 - p_i)``.
    """

    action_label = "P(first action) = σ(w)"

    def __init__(self, R: np.ndarray, name: str) -> None:
        self.R = as_array("R", R, shape=(2, 2, 2))
        super().__init__(2, name)

    def _f(self, a: np.ndarray) -> np.ndarray:
        x1 = np.stack([a[..., 0], 1.0 - a[..., 0]], axis=-1)
        x2 = np.stack([a[..., 1], 1.0 - a[..., 1]], axis=-1)
        return -np.einsum("...x,ixy,...y->...i", x1, self.R, x2)

    def _df(self, a: np.ndarray) -> np.ndarray:
        e = np.array([1.0, -1.0])  # d x_i / d p_i
        x1 = np.stack([a[..., 0], 1.0 - a[..., 0]], axis=-1)
        x2 = np.stack([a[..., 1], 1.0 - a[..., 1]], axis=-1)
        d1 = -np.einsum("x,ixy,...y->...i", e, self.R, x2)
        d2 = -np.einsum("...x,ixy,y->...i", x1, self.R, e)
        return np.stack([d1, d2], axis=-1)

    def _d2f(self, a: np.ndarray) -> np.ndarray:
        e = np.array([1.0, -1.0])
        cross = -np.einsum("x,ixy,y->i", e, self.R, e)  # (2,)
        D = np.zeros((2, 2, 2))
        D[:, 0, 1] = D[:, 1, 0] = cross
        return np.broadcast_to(D, a.shape[:-1] + (2, 2, 2))


def matrix_game(R1: np.ndarray, R2: np.ndarray | None = None, name: str = "matrix game") -> Game:
    """A 2x2 game from reward matrices; ``R2 = R1^T`` (a symmetric game) when omitted."""
    R1 = as_array("R1", R1, shape=(2, 2))
    R2 = R1.T if R2 is None else as_array("R2", R2, shape=(2, 2))
    return MatrixGame(np.stack([R1, R2]), name)


def public_goods(n: int = 2, p: float = 1.5) -> PublicGoods:
    """The public goods game of the paper (two players) or its n-player form.

    ``p = 1.5`` is the course's choice (the paper's value was not read).
    """
    return PublicGoods(n, p)


def prisoners_dilemma() -> MatrixGame:
    """Prisoner's Dilemma ``R1 = [[3, 0], [5, 1]]`` (action 0 = cooperate), ``R2 = R1^T``."""
    return matrix_game(np.array([[3.0, 0.0], [5.0, 1.0]]), name="prisoner's dilemma")


def stag_hunt() -> MatrixGame:
    """Stag hunt ``R1 = [[4, 0], [3, 3]]`` (action 0 = hunt the stag), ``R2 = R1^T``."""
    return matrix_game(np.array([[4.0, 0.0], [3.0, 3.0]]), name="stag hunt")


def matching_pennies() -> QuadraticGame:
    """The bilinear Hamiltonian game ``l_1 = x y``, ``l_2 = -x y`` (S = 0, pure rotation)."""
    Q1 = np.array([[0.0, 1.0], [1.0, 0.0]])
    return QuadraticGame(
        np.stack([Q1, -Q1]), np.zeros((2, 2)), np.zeros(2), np.arange(2), "bilinear (x y)"
    )


def tandem() -> QuadraticGame:
    """Tandem (SOS paper): ``l_1 = (x + y)^2 - 2 x``, ``l_2 = (x + y)^2 - 2 y``."""
    Q = 2.0 * np.ones((2, 2, 2))
    b = np.array([[-2.0, 0.0], [0.0, -2.0]])
    return QuadraticGame(Q, b, np.zeros(2), np.arange(2), "tandem")


def cournot(n: int = 2, a: float = 10.0, b: float = 1.0, c: float = 1.0) -> QuadraticGame:
    """Cournot oligopoly: ``r_i = q_i (a - b Q) - c q_i``, ``Q = sum_j q_j``, ``q = w``.

    As losses ``l_i = b q_i Q - (a - c) q_i``, i.e. ``Q_i = b (e_i 1^T + 1 e_i^T)``,
    ``b_i = -(a - c) e_i``. Nash ``q_i = (a - c) / (b (n + 1))``; joint optimum
    ``Q = (a - c) / (2 b)``. It is a potential game (``H = b (I + 1 1^T)`` is symmetric).

    A "when methods fail" case: with the defaults, lr 0.05 and 1000 steps from
    ``q ~ U(0, 5)^2``, AgA with the paper's sign drifts without bound along ``q_1 - q_2`` for
    ``|lambda| >~ 0.4`` (distance to the optimum ~95 at 0.4, ~5e2 at 0.5, ~6e5 at 0.8) and
    every run trips the trainer's divergence guard at ``|lambda| = 1``; with the exact
    alignment sign (``aga_exact_sign``) the same runs stay near the optimum.

    With quantities projected onto ``q >= 0`` (``train(..., project=nonnegative)``) the drift
    has a floor: paper-sign AgA (``|lambda| = 1``, lr 0.05, 1000 steps, 50 starts
    ``U(0, 5)^2``) ends with one firm at ``q = 0`` and the other near the monopoly output
    ``(a - c) / (2 b)`` in most runs (measured: 70% exactly on the boundary, every run within
    0.1 of it); welfare stays near the joint optimum, equality does not.
    """
    n = check_int("n", n, low=2)
    a = check_positive("a", a)
    b = check_positive("b", b)
    c = check_positive("c", c, allow_zero=True)
    if c >= a:
        raise ValueError(f"c: expected a marginal cost below the price intercept a={a}, got {c}")
    E = np.eye(n)
    ones = np.ones(n)
    Q = b * (np.einsum("ik,m->ikm", E, ones) + np.einsum("k,im->ikm", ones, E))
    game = QuadraticGame(Q, -(a - c) * E, np.zeros(n), np.arange(n), f"Cournot (n={n})")
    game.nash_actions = np.full(n, (a - c) / (b * (n + 1)))
    game.optimum_actions = np.full(n, (a - c) / (2 * b * n))
    return game


def nonnegative(w: np.ndarray) -> np.ndarray:
    """Projection onto ``w >= 0`` (quantities cannot be negative): ``max(w, 0)`` entrywise."""
    return np.maximum(w, 0.0)
