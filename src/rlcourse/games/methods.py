"""Update directions: every method steps ``w <- w - alpha * direction``.

Two layers, both batched over leading axes:

- pure array functions that lessons re-implement (``sga_direction(xi, H, lam, eps)``,
  ``aga_sign(xi, xi_c, grad_Hc)``, ``alignment_derivative(xi_c, v, grad_Hc)``, ...);
- the methods themselves, each ``(game, w, **params) -> (..., d)``: ``simul_ind``,
  ``simul_co``, ``consensus``, ``sga``, ``lola``, ``aga``, ``aga_exact_sign``.

Inner products are over the whole parameter vector, so every batch item gets one scalar
``lambda`` shared by all players. A zero sign product counts as ``+`` (course's choice for
AgA; SGA breaks the tie through its ``eps``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlcourse._validate import describe
from rlcourse.games.base import Game, check_w
from rlcourse.games.mechanics import (
    decompose,
    hamiltonian_gradient,
    jacobian_from_hessians,
    xi_from_grads,
)

__all__ = [
    "METHODS",
    "Method",
    "aga",
    "aga_direction",
    "aga_exact_sign",
    "aga_sign",
    "aga_signs",
    "alignment_derivative",
    "consensus",
    "consensus_direction",
    "exact_alignment_sign",
    "get_method",
    "lola",
    "lola_direction",
    "sga",
    "sga_direction",
    "sga_sign",
    "simul_co",
    "simul_ind",
]

Method = Callable[..., np.ndarray]


def _real(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a real number, got {describe(value)}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    return v


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inner product over the last axis: ``(..., d), (..., d) -> (...)``."""
    return np.einsum("...k,...k->...", x, y)


def _sign(x: np.ndarray) -> np.ndarray:
    """``+1`` where ``x >= 0`` (ties count as ``+``), else ``-1``."""
    return np.where(x >= 0, 1.0, -1.0)


# -- pure array functions -------------------------------------------------------------------


def sga_sign(xi: np.ndarray, H: np.ndarray, eps: float = 0.1) -> np.ndarray:
    """``sign(<xi, H^T xi> <A^T xi, H^T xi> / d + eps)``: ``(..., d), (..., d, d) -> (...)``."""
    d = xi.shape[-1]
    Ht_xi = hamiltonian_gradient(H, xi)
    _, A = decompose(H)
    At_xi = hamiltonian_gradient(A, xi)
    return _sign(_dot(xi, Ht_xi) * _dot(At_xi, Ht_xi) / d + eps)


def sga_direction(xi: np.ndarray, H: np.ndarray, lam: float, eps: float = 0.1) -> np.ndarray:
    """Symplectic gradient adjustment ``xi + lambda A^T xi`` (Balduzzi et al. 2018).

    ``A^T xi = (H^T xi - H xi) / 2``, ``lambda = |lam| sign(<xi, H^T xi><A^T xi, H^T xi>/d + eps)``.
    ``xi``: ``(..., d)``, ``H``: ``(..., d, d)``; returns ``(..., d)``.
    """
    _, A = decompose(H)
    At_xi = hamiltonian_gradient(A, xi)
    lam_signed = abs(lam) * sga_sign(xi, H, eps)
    return xi + lam_signed[..., None] * At_xi


def consensus_direction(xi: np.ndarray, H: np.ndarray, gamma: float) -> np.ndarray:
    """Consensus optimisation ``xi + gamma H^T xi`` (Mescheder et al. 2017): ``(..., d)``."""
    return xi + gamma * hamiltonian_gradient(H, xi)


def aga_sign(xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
    """The paper's AgA sign ``sign(<xi_c, grad H_c> (<xi, grad H_c> + |grad H_c|^2))``.

    All arguments ``(..., d)``; returns ``(...)`` of ``+-1`` (zero counts as ``+1``).
    """
    return _sign(_dot(xi_c, grad_Hc) * (_dot(xi, grad_Hc) + _dot(grad_Hc, grad_Hc)))


def alignment_derivative(xi_c: np.ndarray, v: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
    """``d/dlambda cos^2 angle(xi_c + lambda v, grad H_c)`` at ``lambda = 0``.

    With ``g = grad H_c``:
    ``2 <xi_c, g> (<v, g> |xi_c|^2 - <xi_c, g> <xi_c, v>) / (|xi_c|^4 |g|^2)``.
    All arguments ``(..., d)``; returns ``(...)``, 0 where ``xi_c`` or ``g`` vanishes (no angle).
    The paper's sign equals the sign of this when ``<xi_c, v> = 0``.
    """
    xg = _dot(xi_c, grad_Hc)
    xx = _dot(xi_c, xi_c)
    gg = _dot(grad_Hc, grad_Hc)
    num = 2.0 * xg * (_dot(v, grad_Hc) * xx - xg * _dot(xi_c, v))
    den = xx**2 * gg
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def exact_alignment_sign(xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
    """Exact sign of the alignment derivative for ``v = xi + grad H_c`` (ties -> ``+1``)."""
    return _sign(alignment_derivative(xi_c, xi + grad_Hc, grad_Hc))


def aga_direction(
    xi: np.ndarray, xi_c: np.ndarray, H_c: np.ndarray, lam: float, *, exact: bool = False
) -> np.ndarray:
    """Altruistic gradient adjustment ``xi_c + lambda (xi + grad H_c)``, ``grad H_c = H_c xi_c``.

    ``lambda = |lam| * aga_sign(xi, xi_c, grad H_c)`` (or the exact alignment sign when
    ``exact``). ``xi, xi_c``: ``(..., d)``, ``H_c``: ``(..., d, d)``; returns ``(..., d)``.
    """
    grad_Hc = hamiltonian_gradient(H_c, xi_c)
    s = exact_alignment_sign(xi, xi_c, grad_Hc) if exact else aga_sign(xi, xi_c, grad_Hc)
    return xi_c + (abs(lam) * s)[..., None] * (xi + grad_Hc)


def lola_direction(
    grads: np.ndarray, hessians: np.ndarray, owner: np.ndarray, alpha: float
) -> np.ndarray:
    """LOLA: ``xi_i - alpha grad_{w_i} sum_{j != i} <grad_{w_j} l_i, grad_{w_j} l_j>``.

    For parameter ``m`` of player ``i`` and ``O_ik = [owner[k] != i]``:
    ``grad_{w_m} sum_{k} O_ik (d_k l_i) xi_k
    = sum_k O_ik (d_mk l_i xi_k + d_k l_i d_mk l_{owner[k]})``.
    ``grads``: ``(..., n, d)``, ``hessians``: ``(..., n, d, d)``; returns ``(..., d)``.
    """
    n, d = grads.shape[-2], grads.shape[-1]
    O = (owner[None, :] != np.arange(n)[:, None]).astype(float)  # (n, d)
    xi = xi_from_grads(grads, owner)  # (..., d)
    H = jacobian_from_hessians(hessians, owner)  # H_km = d_mk l_{owner[k]}
    T = np.einsum("ik,...imk,...k->...im", O, hessians, xi)
    T += np.einsum("ik,...ik,...km->...im", O, grads, H)
    return xi - alpha * T[..., owner, np.arange(d)]


# -- methods on a game ----------------------------------------------------------------------


def simul_ind(game: Game, w: np.ndarray) -> np.ndarray:
    """Simul-Ind, every player descends its own loss: ``xi``."""
    w = check_w(game, w)
    return xi_from_grads(game._grads(w), game.owner)


def simul_co(game: Game, w: np.ndarray) -> np.ndarray:
    """Simul-Co, every player descends the collective loss: ``xi_c = grad sum_i l_i``."""
    w = check_w(game, w)
    return game._grads(w).sum(axis=-2)


def consensus(game: Game, w: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """CO (consensus optimisation): ``xi + gamma H^T xi``."""
    gamma = _real("gamma", gamma)
    w = check_w(game, w)
    xi = xi_from_grads(game._grads(w), game.owner)
    H = jacobian_from_hessians(game._hessians(w), game.owner)
    return consensus_direction(xi, H, gamma)


def sga(game: Game, w: np.ndarray, lam: float = 1.0, eps: float = 0.1) -> np.ndarray:
    """SGA: ``xi + lambda A^T xi`` with the sign rule of :func:`sga_direction`."""
    lam, eps = _real("lam", lam), _real("eps", eps)
    w = check_w(game, w)
    xi = xi_from_grads(game._grads(w), game.owner)
    H = jacobian_from_hessians(game._hessians(w), game.owner)
    return sga_direction(xi, H, lam, eps)


def lola(game: Game, w: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """LOLA (first-order look-ahead, as in the SOS paper): see :func:`lola_direction`."""
    alpha = _real("alpha", alpha)
    w = check_w(game, w)
    return lola_direction(game._grads(w), game._hessians(w), game.owner, alpha)


def _aga(game: Game, w: np.ndarray, lam: float, exact: bool) -> np.ndarray:
    lam = _real("lam", lam)
    w = check_w(game, w)
    G, Hs = game._grads(w), game._hessians(w)
    xi = xi_from_grads(G, game.owner)
    return aga_direction(xi, G.sum(axis=-2), Hs.sum(axis=-3), lam, exact=exact)


def aga(game: Game, w: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """AgA: ``xi_c + lambda (xi + H_c xi_c)`` with the paper's sign rule (:func:`aga_sign`)."""
    return _aga(game, w, lam, exact=False)


def aga_exact_sign(game: Game, w: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """AgA with ``lambda = |lam| sign(alignment_derivative)``, the exact first-order sign."""
    return _aga(game, w, lam, exact=True)


def aga_signs(game: Game, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's sign of ``lambda`` and the exact alignment sign at ``w``: two ``(...)`` arrays.

    ``(aga_sign(xi, xi_c, H_c xi_c), exact_alignment_sign(xi, xi_c, H_c xi_c))``; their
    agreement rate over random ``w`` measures how often the paper's rule is exact.
    """
    w = check_w(game, w)
    G, Hs = game._grads(w), game._hessians(w)
    xi, xi_c = xi_from_grads(G, game.owner), G.sum(axis=-2)
    grad_Hc = hamiltonian_gradient(Hs.sum(axis=-3), xi_c)
    return aga_sign(xi, xi_c, grad_Hc), exact_alignment_sign(xi, xi_c, grad_Hc)


METHODS: dict[str, Method] = {
    "simul_ind": simul_ind,
    "simul_co": simul_co,
    "consensus": consensus,
    "sga": sga,
    "lola": lola,
    "aga": aga,
    "aga_exact_sign": aga_exact_sign,
}


def get_method(method: str | Method) -> tuple[str, Method]:
    """``(name, function)`` for a method name in :data:`METHODS` or a direction callable."""
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method: expected one of {sorted(METHODS)}, got {method!r}")
        return method, METHODS[method]
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    raise ValueError(f"method: expected a method name or a callable, got {describe(method)}")
