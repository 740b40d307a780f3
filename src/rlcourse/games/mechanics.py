"""Game mechanics (Balduzzi et al. 2018): ``xi``, ``H``, ``S``, ``A``, ``xi_c``, ``H_c``.

Two layers: small pure functions on arrays (``xi_from_grads``, ``jacobian_from_hessians``,
``decompose``) and the same quantities for a game at parameters ``w`` of shape ``(..., d)``.
"""

from __future__ import annotations

import numpy as np

from rlcourse.games.base import Game, check_w

__all__ = [
    "collective_gradient",
    "collective_hessian",
    "decompose",
    "game_jacobian",
    "hamiltonian_gradient",
    "jacobian_from_hessians",
    "simultaneous_gradient",
    "xi_from_grads",
]


def xi_from_grads(grads: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Simultaneous gradient from all players' gradients.

    ``xi_k = d l_{owner[k]} / d w_k``. ``grads``: ``(..., n, d)``, ``owner``: ``(d,)`` ints.
    Returns ``(..., d)``.
    """
    k = np.arange(len(owner))
    return grads[..., owner, k]


def jacobian_from_hessians(hessians: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Game Jacobian ``H = grad_w xi``: ``H_km = d^2 l_{owner[k]} / d w_k d w_m``.

    ``hessians``: ``(..., n, d, d)``; returns ``(..., d, d)`` (not symmetric in general).
    """
    k = np.arange(len(owner))
    return hessians[..., owner, k, :]


def decompose(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S = (H + H^T) / 2`` and ``A = (H - H^T) / 2`` of ``H`` with shape ``(..., d, d)``."""
    Ht = np.swapaxes(H, -1, -2)
    return 0.5 * (H + Ht), 0.5 * (H - Ht)


def simultaneous_gradient(game: Game, w: np.ndarray) -> np.ndarray:
    """``xi(w) = (grad_{w_1} l_1, ..., grad_{w_n} l_n)``: shape ``(..., d)``."""
    w = check_w(game, w)
    return xi_from_grads(game._grads(w), game.owner)


def game_jacobian(game: Game, w: np.ndarray) -> np.ndarray:
    """``H = grad_w xi``: shape ``(..., d, d)``."""
    w = check_w(game, w)
    return jacobian_from_hessians(game._hessians(w), game.owner)


def collective_gradient(game: Game, w: np.ndarray) -> np.ndarray:
    """``xi_c = grad_w l_c`` with the collective loss ``l_c = sum_i l_i``: shape ``(..., d)``.

    A sum, not a mean: with ``l_c / n`` the AgA direction becomes
    ``(1/n) [xi_c + n lam (xi + grad H_c / n^2)]`` -- the weight of ``grad H_c`` against ``xi``
    drops by ``n^2`` and the sign rule flips at some points, so it is not a rescaled ``lam``.
    """
    w = check_w(game, w)
    return game._grads(w).sum(axis=-2)


def collective_hessian(game: Game, w: np.ndarray) -> np.ndarray:
    """``H_c = grad_w^2 l_c = sum_i grad^2 l_i`` (symmetric): shape ``(..., d, d)``."""
    w = check_w(game, w)
    return game._hessians(w).sum(axis=-3)


def hamiltonian_gradient(H: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """``grad(1/2 |xi|^2) = H^T xi`` for ``H``: ``(..., d, d)``, ``xi``: ``(..., d)``.

    With ``H_c`` and ``xi_c`` this is ``grad H_c = H_c xi_c`` (``H_c`` is symmetric).
    """
    return np.einsum("...km,...k->...m", H, xi)
