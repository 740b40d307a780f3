"""The memory-1 iterated prisoner's dilemma with exact discounted returns.

The exact-value IPD of the LOLA / SOS line of work (Foerster et al. 2018, Letcher et al.
2019). Each player has five parameters, ``w_i = (w_i^0, w_i^CC, w_i^CD, w_i^DC, w_i^DD)``:
``sigma(w_i^0)`` is the probability of cooperating in the first round and ``sigma(w_i^s)``
the probability of cooperating after the previous round ended in state ``s``, named from
the player's own point of view (own action first). Player 1 owns ``w[0:5]``, player 2
``w[5:10]``.

The joint outcome of a round is one of ``(CC, CD, DC, DD)`` (player 1's action first).
With ``x = p0`` the distribution of the first round and ``P`` the 4x4 transition matrix
between rounds, the discounted return of player ``i`` is

    V_i = sum_t gamma^t p0^T P^t r_i = p0^T (I - gamma P)^{-1} r_i,

and the course reports it per round, ``R_i = (1 - gamma) V_i`` (course's choice: the
scale of the payoffs, 1 for mutual defection and 3 for mutual cooperation with the default
payoffs; the LOLA papers use ``V_i`` itself and payoffs ``(-1, -3, 0, -2)``). Losses are
``l_i = -R_i``.

Derivatives are exact. With ``M = (I - gamma P)^{-1}``, ``u_i = M r_i``, ``y = p0^T M`` and
the probabilities ``x = sigma(w)``:

    dV_i/dx_k         = z_k . u_i,      z_k = dp0/dx_k + gamma y dP/dx_k,
    d^2V_i/dx_k dx_m  = (d^2p0/dx_k dx_m + gamma y d^2P/dx_k dx_m) . u_i
                        + z_k . du_i/dx_m + z_m . du_i/dx_k,
    du_i/dx_m         = gamma M (dP/dx_m) u_i,

and the chain rule through ``x = sigma(w)`` as in :class:`~rlcourse.games.base.SigmoidGame`.
"""

from __future__ import annotations

import numpy as np

from rlcourse._validate import as_array, check_open_interval
from rlcourse.games.base import Game, check_w, sigmoid

__all__ = ["IteratedPrisonersDilemma", "iterated_prisoners_dilemma"]

STATES = ("CC", "CD", "DC", "DD")
# Player 2 names a state with its own action first: joint CD is its DC and vice versa.
# Entry j of player 2's parameters (0 = first round, 1..4 = own-view states) drives the
# joint row _SWAP[j] - 1.
_SWAP = np.array([0, 1, 3, 2, 4])


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(ab, a(1-b), (1-a)b, (1-a)(1-b))``: the joint distribution of two independent coins."""
    return np.stack([a * b, a * (1 - b), (1 - a) * b, (1 - a) * (1 - b)], axis=-1)


def _d_outer_da(b: np.ndarray) -> np.ndarray:
    return np.stack([b, 1 - b, -b, b - 1], axis=-1)


def _d_outer_db(a: np.ndarray) -> np.ndarray:
    return np.stack([a, -a, 1 - a, a - 1], axis=-1)


_CROSS = np.array([1.0, -1.0, -1.0, 1.0])  # d^2 _outer / da db


def _second_derivatives() -> tuple[np.ndarray, np.ndarray]:
    """``d^2 p0 / dx_k dx_m`` ``(10, 10, 4)`` and ``d^2 P / dx_k dx_m`` ``(10, 10, 4, 4)``.

    Both are constant: ``p0`` and every row of ``P`` are bilinear in one probability of each
    player, so only the cross terms between those two are non-zero.
    """
    d2p0 = np.zeros((10, 10, 4))
    d2p0[0, 5] = d2p0[5, 0] = _CROSS
    d2P = np.zeros((10, 10, 4, 4))
    for s in range(4):
        k1, k2 = 1 + s, 5 + _SWAP[1 + s]
        d2P[k1, k2, s] = d2P[k2, k1, s] = _CROSS
    return d2p0, d2P


_D2P0, _D2P = _second_derivatives()
_D2P_FLAT = np.moveaxis(_D2P, 2, 0).reshape(4, 400)  # (a, k m b): y_a d^2P_kmab


class IteratedPrisonersDilemma(Game):
    """Memory-1 IPD with exact discounted returns; see the module docstring for the equations.

    ``gamma``: discount in ``(0, 1)``. ``R1``: player 1's payoffs ``[[CC, CD], [DC, DD]]``
    (player 2 gets ``R1^T``), default the course's prisoner's dilemma ``[[3, 0], [5, 1]]``.
    Actions are the ten cooperation probabilities ``sigma(w)``.
    """

    action_label = "P(cooperate) = σ(w)"

    def __init__(self, gamma: float = 0.96, R1: np.ndarray | None = None) -> None:
        self.gamma = check_open_interval("gamma", gamma, 0.0, 1.0)
        R1 = np.array([[3.0, 0.0], [5.0, 1.0]]) if R1 is None else as_array("R1", R1, shape=(2, 2))
        self.R1 = R1
        # r[i, s]: reward of player i in joint state s = (CC, CD, DC, DD)
        self.r = np.stack([R1.reshape(4), R1.T.reshape(4)])
        super().__init__(2, np.repeat([0, 1], 5), f"iterated prisoner's dilemma (γ={self.gamma:g})")
        self._memo: tuple[tuple[object, bytes], tuple[np.ndarray, ...]] | None = None

    # -- the Markov chain ------------------------------------------------------------------
    def _chain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``p0`` ``(..., 4)``, ``P`` ``(..., 4, 4)`` and their derivatives in ``x``.

        ``dp0``: ``(..., 10, 4)``, ``dP``: ``(..., 10, 4, 4)``.
        ``x``: ``(..., 10)`` cooperation probabilities (player 2's in its own naming).
        """
        p = x[..., :5]
        q = x[..., 5:][..., _SWAP]  # player 2's probabilities in joint-state order
        p0 = _outer(p[..., 0], q[..., 0])
        P = _outer(p[..., 1:], q[..., 1:])
        batch = x.shape[:-1]
        dp0 = np.zeros(batch + (10, 4))
        dp0[..., 0, :] = _d_outer_da(q[..., 0])
        dp0[..., 5, :] = _d_outer_db(p[..., 0])
        dP = np.zeros(batch + (10, 4, 4))
        da, db = _d_outer_da(q[..., 1:]), _d_outer_db(p[..., 1:])  # (..., 4 rows, 4)
        for s in range(4):
            dP[..., 1 + s, s, :] = da[..., s, :]
            dP[..., 5 + _SWAP[1 + s], s, :] = db[..., s, :]
        return p0, P, dp0, dP

    def _values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``p0``, ``P``, ``M = (I - gamma P)^{-1}``, ``u_i = M r_i`` ``(..., 2, 4)``."""
        p0, P, _, _ = self._chain(x)
        M = np.linalg.inv(np.eye(4) - self.gamma * P)
        u = np.einsum("...ab,ib->...ia", M, self.r)
        return p0, P, M, u

    def occupancy(self, w: np.ndarray) -> np.ndarray:
        """Discounted state distribution ``(1 - gamma) p0^T (I - gamma P)^{-1}``: ``(..., 4)``.

        Entry ``s`` is the discounted frequency of joint outcome ``s`` in ``(CC, CD, DC, DD)``.
        """
        x = sigmoid(check_w(self, w))
        p0, _, M, _ = self._values(x)
        return (1.0 - self.gamma) * np.einsum("...a,...ab->...b", p0, M)

    def cooperation_rate(self, w: np.ndarray) -> np.ndarray:
        """Discounted frequency with which each player cooperates: ``(..., 2)``."""
        occ = self.occupancy(w)
        return np.stack([occ[..., 0] + occ[..., 1], occ[..., 0] + occ[..., 2]], axis=-1)

    # -- Game interface --------------------------------------------------------------------
    def _actions(self, w: np.ndarray) -> np.ndarray:
        return sigmoid(w)

    def _params_from_actions(self, a: np.ndarray) -> np.ndarray:
        return np.log(a) - np.log1p(-a)

    def _losses(self, w: np.ndarray) -> np.ndarray:
        p0, _, _, u = self._values(sigmoid(w))
        return -(1.0 - self.gamma) * np.einsum("...a,...ia->...i", p0, u)

    def _first_order(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """``dP``, ``M``, ``u_i`` as columns ``(..., 4, 2)``, ``y``, ``z`` and ``dV_i/dx_k``.

        Remembers the last ``x``: a method asks for gradients and then Hessians at the same
        point, and the second call reuses the chain, the inverse and the first derivatives.
        """
        key = (x.shape, x.tobytes())
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        g = self.gamma
        p0, P, dp0, dP = self._chain(x)
        M = np.linalg.inv(np.eye(4) - g * P)
        uT = M @ self.r.T  # (..., 4, 2): u_i = M r_i as columns
        y = (p0[..., None, :] @ M)[..., 0, :]  # (..., 4)
        z = dp0 + g * (y[..., None, None, :] @ dP)[..., 0, :]  # (..., 10, 4)
        dV = np.swapaxes(z @ uT, -1, -2)  # (..., 2, 10)
        out = (dP, M, uT, y, z, dV)
        self._memo = (key, out)
        return out

    def _x_derivatives(self, x: np.ndarray, second: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """``dV_i/dx_k``: ``(..., 2, 10)``; if ``second``, also ``d^2V_i/dx_k dx_m``."""
        g = self.gamma
        dP, M, uT, y, z, dV = self._first_order(x)
        if not second:
            return dV, None
        batch = x.shape[:-1]
        du = g * (M[..., None, :, :] @ (dP @ uT[..., None, :, :]))  # (..., m, a, i)
        const = _D2P0 + g * (y @ _D2P_FLAT).reshape(batch + (10, 10, 4))  # (..., k, m, b)
        d2V = (const.reshape(batch + (100, 4)) @ uT).reshape(batch + (10, 10, 2))
        d2V = np.moveaxis(d2V, -1, -3)  # (..., i, k, m)
        cross = z[..., None, :, :] @ np.moveaxis(du, -1, -3).swapaxes(-1, -2)  # (..., i, k, m)
        return dV, d2V + cross + np.swapaxes(cross, -1, -2)

    def _grads(self, w: np.ndarray) -> np.ndarray:
        s = sigmoid(w)
        dV, _ = self._x_derivatives(s, second=False)
        return -(1.0 - self.gamma) * dV * (s * (1.0 - s))[..., None, :]

    def _hessians(self, w: np.ndarray) -> np.ndarray:
        s = sigmoid(w)
        ds = s * (1.0 - s)
        d2s = ds * (1.0 - 2.0 * s)
        dV, d2V = self._x_derivatives(s, second=True)
        assert d2V is not None
        c = -(1.0 - self.gamma)
        H = c * d2V * ds[..., None, :, None] * ds[..., None, None, :]
        k = np.arange(self.dim)
        H[..., k, k] += c * dV * d2s[..., None, :]
        return H


def iterated_prisoners_dilemma(
    gamma: float = 0.96, R1: np.ndarray | None = None
) -> IteratedPrisonersDilemma:
    """The memory-1 iterated prisoner's dilemma (10 parameters, exact discounted returns).

    ``gamma`` in ``(0, 1)`` (0.96 as in LOLA); rewards are per round, ``(1 - gamma) V_i``.
    """
    return IteratedPrisonersDilemma(gamma, R1)
