"""Differentiable games: losses, gradients and Hessians in closed form, batched.

A game has players ``i = 1..n`` and parameters ``w = (w_1..w_n) in R^d``; player ``i`` owns the
parameters ``k`` with ``owner[k] == i``. Every method takes ``w`` of shape ``(..., d)`` (any
leading batch axes) and returns

- ``losses(w)``   -> ``(..., n)``        ``l_i(w)``,
- ``grads(w)``    -> ``(..., n, d)``     ``d l_i / d w_k`` (every loss, every parameter),
- ``hessians(w)`` -> ``(..., n, d, d)``  ``d^2 l_i / d w_k d w_m``,
- ``actions(w)``  -> ``(..., d)``        what the players play (``sigma(w)`` or ``w``).

Rewards are ``r_i = -l_i``.
"""

from __future__ import annotations

import numpy as np

from rlcourse._validate import as_array, check_int, describe

__all__ = ["Game", "QuadraticGame", "SigmoidGame", "sigmoid", "check_w"]


def sigmoid(w: np.ndarray) -> np.ndarray:
    """``sigma(w) = 1 / (1 + exp(-w))``, computed without overflow for large ``|w|``."""
    w = np.asarray(w, dtype=float)
    e = np.exp(-np.abs(w))
    return np.where(w >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Game:
    """Base class of a differentiable game with closed-form derivatives.

    Subclasses set ``name``, ``n_players``, ``dim``, ``owner`` and implement ``_losses``,
    ``_grads`` and ``_hessians`` on already validated arrays of shape ``(..., d)``.
    """

    name: str = "game"
    n_players: int
    dim: int
    owner: np.ndarray
    action_label: str = "parameter"

    def __init__(self, n_players: int, owner: np.ndarray, name: str) -> None:
        self.n_players = check_int("n_players", n_players, low=1)
        owner = np.asarray(owner, dtype=int)
        if owner.ndim != 1 or owner.min() < 0 or owner.max() >= self.n_players:
            raise ValueError(
                f"owner: expected a 1-d array of player indices in [0, {self.n_players}), "
                f"got {describe(owner)}"
            )
        self.owner = owner
        self.owner.setflags(write=False)
        self.dim = int(owner.size)
        self.name = name

    # -- public, validated -------------------------------------------------------------
    def losses(self, w: np.ndarray) -> np.ndarray:
        """``l_i(w)``: shape ``(..., n)``."""
        return self._losses(check_w(self, w))

    def rewards(self, w: np.ndarray) -> np.ndarray:
        """``r_i(w) = -l_i(w)``: shape ``(..., n)``."""
        return -self._losses(check_w(self, w))

    def grads(self, w: np.ndarray) -> np.ndarray:
        """``d l_i / d w_k``: shape ``(..., n, d)``."""
        return self._grads(check_w(self, w))

    def hessians(self, w: np.ndarray) -> np.ndarray:
        """``d^2 l_i / d w_k d w_m``: shape ``(..., n, d, d)``, symmetric in the last two axes."""
        return self._hessians(check_w(self, w))

    def actions(self, w: np.ndarray) -> np.ndarray:
        """The actions the players take, shape ``(..., d)``."""
        return self._actions(check_w(self, w))

    # -- to implement ------------------------------------------------------------------
    def _losses(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grads(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _hessians(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _actions(self, w: np.ndarray) -> np.ndarray:
        return w

    def _params_from_actions(self, a: np.ndarray) -> np.ndarray:
        """Inverse of ``actions`` (used by plots to put a grid in action space)."""
        return a

    def _aga_terms(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xi, xi_c, grad H_c = H_c xi_c)`` at validated ``w``, each ``(..., d)``: what AgA
        needs, for the trainer. This generic version goes through every player's gradient
        and Hessian; subclasses compute the three directly."""
        G, Hs = self._grads(w), self._hessians(w)
        xi = G[..., self.owner, np.arange(self.dim)]
        xi_c = G.sum(axis=-2)
        return xi, xi_c, np.einsum("...km,...k->...m", Hs.sum(axis=-3), xi_c)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: n_players={self.n_players}, d={self.dim}>"


def check_w(game: Game, w: object, name: str = "w") -> np.ndarray:
    """Validate parameters ``w`` for ``game``: finite floats of shape ``(..., game.dim)``."""
    if not isinstance(game, Game):
        raise ValueError(f"game: expected a rlcourse.games Game, got {describe(game)}")
    arr = as_array(name, w, min_ndim=1)
    if arr.shape[-1] != game.dim:
        raise ValueError(
            f"{name}: expected shape (..., {game.dim}) for {game.name} "
            f"(d = {game.dim} parameters), got shape {arr.shape}"
        )
    return arr


class QuadraticGame(Game):
    """``l_i(w) = 1/2 w^T Q_i w + b_i^T w + c_i`` with symmetric ``Q_i``; actions are ``w``.

    ``Q``: ``(n, d, d)``, ``b``: ``(n, d)``, ``c``: ``(n,)``.
    """

    def __init__(
        self,
        Q: np.ndarray,
        b: np.ndarray,
        c: np.ndarray,
        owner: np.ndarray,
        name: str,
    ) -> None:
        Q = as_array("Q", Q, ndim=3)
        n, d, _ = Q.shape
        if Q.shape[2] != d or not np.allclose(Q, np.swapaxes(Q, 1, 2)):
            raise ValueError(f"Q: expected n symmetric (d, d) matrices, got shape {Q.shape}")
        super().__init__(n, owner, name)
        if self.dim != d:
            raise ValueError(f"owner: expected {d} entries to match Q, got {self.dim}")
        self.Q = Q
        self.b = as_array("b", b, shape=(n, d))
        self.c = as_array("c", c, shape=(n,))

    def _losses(self, w: np.ndarray) -> np.ndarray:
        quad = 0.5 * np.einsum("...k,ikm,...m->...i", w, self.Q, w)
        return quad + w @ self.b.T + self.c

    def _grads(self, w: np.ndarray) -> np.ndarray:
        return np.einsum("ikm,...m->...ik", self.Q, w) + self.b

    def _hessians(self, w: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.Q, w.shape[:-1] + self.Q.shape).copy()

    def _aga_terms(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``xi = w Q_xi^T + b_xi`` (rows ``Q_xi[k] = Q_{owner[k]}[k]``), ``xi_c = w H_c + b_c``
        with the constant ``H_c = sum_i Q_i``, ``b_c = sum_i b_i``; ``grad H_c = xi_c H_c``."""
        cached = self.__dict__.get("_aga_consts")
        if cached is None:
            k = np.arange(self.dim)
            cached = (self.Q[self.owner, k].T, self.b[self.owner, k], self.Q.sum(0), self.b.sum(0))
            self.__dict__["_aga_consts"] = cached
        Q_xi_T, b_xi, H_c, b_c = cached
        xi_c = w @ H_c + b_c
        return w @ Q_xi_T + b_xi, xi_c, xi_c @ H_c


class SigmoidGame(Game):
    """A game played in actions ``a = sigma(w)`` (one parameter per player).

    Subclasses give the losses in action space ``f_i(a)`` with ``_f`` -> ``(..., n)``,
    ``_df`` -> ``(..., n, n)`` (``d f_i / d a_k``) and ``_d2f`` -> ``(..., n, n, n)``.
    The chain rule with ``sigma' = s(1-s)``, ``sigma'' = s(1-s)(1-2s)`` gives

        d l_i / d w_k          = f_ik sigma'(w_k)
        d^2 l_i / d w_k d w_m  = f_ikm sigma'(w_k) sigma'(w_m) + [k = m] f_ik sigma''(w_k).
    """

    action_label = "action a = σ(w)"

    def __init__(self, n_players: int, name: str) -> None:
        super().__init__(n_players, np.arange(n_players), name)

    def _f(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _df(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _d2f(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _actions(self, w: np.ndarray) -> np.ndarray:
        return sigmoid(w)

    def _params_from_actions(self, a: np.ndarray) -> np.ndarray:
        return np.log(a) - np.log1p(-a)

    def _losses(self, w: np.ndarray) -> np.ndarray:
        return self._f(sigmoid(w))

    def _grads(self, w: np.ndarray) -> np.ndarray:
        s = sigmoid(w)
        ds = s * (1.0 - s)
        return self._df(s) * ds[..., None, :]

    def _hessians(self, w: np.ndarray) -> np.ndarray:
        s = sigmoid(w)
        ds = s * (1.0 - s)
        d2s = ds * (1.0 - 2.0 * s)
        H = self._d2f(s) * ds[..., None, :, None] * ds[..., None, None, :]
        diag = self._df(s) * d2s[..., None, :]  # (..., n, d): the [k = m] term
        k = np.arange(self.dim)
        H[..., k, k] += diag
        return H

    def _aga_terms(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One sigmoid, no per-player Hessians: with ``f_c = sum_i f_i``,
        ``xi_k = f_kk sigma'_k``, ``xi_c,k = f_c,k sigma'_k`` and
        ``grad H_c = sigma' * (f_c'' (sigma' * xi_c)) + f_c' sigma'' xi_c``."""
        s = sigmoid(w)
        ds = s * (1.0 - s)
        d2s = ds * (1.0 - 2.0 * s)
        df = self._df(s)
        dfc = _sum_over_players(df, -2)  # d f_c / d a_k
        xi = np.diagonal(df, axis1=-2, axis2=-1) * ds
        xi_c = dfc * ds
        grad_Hc = ds * _matvec(_sum_over_players(self._d2f(s), -3), ds * xi_c) + dfc * d2s * xi_c
        return xi, xi_c, grad_Hc


def _sum_over_players(x: np.ndarray, axis: int) -> np.ndarray:
    """``x.sum(axis)`` for ``axis`` the (negative) player axis of a derivative whose last
    ``-axis`` axes are per-game; summed once and broadcast when ``x`` is a view broadcast over
    its batch axes (a derivative that does not depend on ``w``)."""
    n_batch = x.ndim + axis
    if n_batch > 0 and all(st == 0 for st in x.strides[:n_batch]):
        core = x[(0,) * n_batch].sum(axis=axis)
        return np.broadcast_to(core, x.shape[:n_batch] + core.shape)
    return x.sum(axis=axis)


def _matvec(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``M v`` over the last axes, ``M: (..., d, d)``, ``v: (..., d)``; a single matrix
    product when ``M`` is broadcast over the batch (``M`` symmetric)."""
    n_batch = M.ndim - 2
    if n_batch > 0 and all(st == 0 for st in M.strides[:n_batch]):
        return v @ M[(0,) * n_batch].T
    return np.einsum("...km,...m->...k", M, v)
