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
