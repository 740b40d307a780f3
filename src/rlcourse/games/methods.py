"""Update directions: every method steps ``w <- w - alpha * direction``.

Two layers, both batched over leading axes:

- pure array functions that lessons re-implement (``sga_direction(xi, H, lam, eps)``,
  ``aga_sign(xi, xi_c, grad_Hc)``, ``alignment_derivative(xi_c, v, grad_Hc)``, ...);
- the methods themselves, each ``(game, w, **params) -> (..., d)``: ``simul_ind``,
  ``simul_co``, ``consensus``, ``sga``, ``lola``, ``aga``, ``aga_exact_sign``.

Inner products are over the whole parameter vector, so every batch item gets one scalar
``lambda`` shared by all players.

Ties. Every sign decision lives in the three public sign functions :func:`sga_sign`,
:func:`aga_sign` and :func:`exact_alignment_sign`. A sign is a **tie** when the quantity is
within ``rtol`` of the size of the terms it is made of, so that rounding alone could flip
it: for a product ``x y`` whose factors are bounded by ``X`` and ``Y`` (Cauchy-Schwarz),

    tie  <=>  |x y| <= rtol (|x| Y + X |y|).

A tie takes the sign ``+`` (the course's choice; SGA's ``eps`` breaks ties the same way) and
is reported: pass ``return_ties=True`` to get ``(sign, tie)``; :func:`aga_signs` counts the
ties of a game at many points. In Cournot and Tandem ``xi_c`` is parallel to ``grad H_c``,
so the exact alignment derivative is identically zero: every exact sign there is a tie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple, overload

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
    "TIE_RTOL",
    "Method",
    "SignComparison",
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

#: Relative tolerance below which a sign is a tie (rounding noise measured in the course's
#: games stays below 1e-12 of the same scale).
TIE_RTOL = 1e-9


def _real(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a real number, got {describe(value)}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    return v


def _rtol(rtol: object) -> float:
    r = _real("rtol", rtol)
    if r < 0:
        raise ValueError(f"rtol: expected a relative tolerance >= 0, got {r}")
    return r


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inner product over the last axis: ``(..., d), (..., d) -> (...)``."""
    return np.einsum("...k,...k->...", x, y)


def _norm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(x, x))


def _sign_of_product(
    x: np.ndarray, X: np.ndarray, y: np.ndarray, Y: np.ndarray, rtol: float, c: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Sign of ``x y + c`` and its tie mask, for factors bounded by ``|x| <= X``, ``|y| <= Y``.

    ``tie = |x y + c| <= rtol (|x| Y + X |y| + |c|)``; a tie counts as ``+1``.
    """
    value = x * y + c
    tie = np.abs(value) <= rtol * (np.abs(x) * Y + X * np.abs(y) + abs(c))
    return np.where(tie | (value > 0), 1.0, -1.0), tie


# -- pure array functions -------------------------------------------------------------------


@overload
def sga_sign(
    xi: np.ndarray,
    H: np.ndarray,
    eps: float = ...,
    *,
    rtol: float = ...,
    return_ties: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def sga_sign(
    xi: np.ndarray,
    H: np.ndarray,
    eps: float = ...,
    *,
    rtol: float = ...,
    return_ties: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def sga_sign(
    xi: np.ndarray,
    H: np.ndarray,
    eps: float = 0.1,
    *,
    rtol: float = TIE_RTOL,
    return_ties: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``sign(<xi, H^T xi> <A^T xi, H^T xi> / d + eps)``: ``(..., d), (..., d, d) -> (...)``.

    ``+-1``; a tie (within ``rtol`` of ``(|x| Y + X |y|) / d + |eps|`` with
    ``X = |xi| |H^T xi|``, ``Y = (|H^T xi| + |H xi|) |H^T xi| / 2``) counts as ``+1``.
    With ``return_ties`` also the boolean tie mask.
    """
    rtol = _rtol(rtol)
    d = xi.shape[-1]
    Ht_xi = hamiltonian_gradient(H, xi)
    H_xi = np.einsum("...km,...m->...k", H, xi)
    _, A = decompose(H)
    At_xi = hamiltonian_gradient(A, xi)
    nHt = _norm(Ht_xi)
    s, tie = _sign_of_product(
        _dot(xi, Ht_xi) / d,
        _norm(xi) * nHt / d,
        _dot(At_xi, Ht_xi),
        0.5 * (nHt + _norm(H_xi)) * nHt,
        rtol,
        float(eps),
    )
    return (s, tie) if return_ties else s


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


@overload
def aga_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = ...,
    return_ties: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def aga_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = ...,
    return_ties: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def aga_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = TIE_RTOL,
    return_ties: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The paper's AgA sign ``sign(<xi_c, grad H_c> (<xi, grad H_c> + |grad H_c|^2))``.

    The bracket is ``a * (b + c)`` with ``a = <xi_c, g>``, ``b = <xi, g>``, ``c = |g|^2``
    (not ``a * b + c``). All arguments ``(..., d)``; returns ``(...)`` of ``+-1``. A tie
    (``|a (b + c)| <= rtol (|a| (|xi| |g| + |g|^2) + |xi_c| |g| |b + c|)``, e.g. everywhere in
    a zero-sum game where ``xi_c = 0``) counts as ``+1``; ``return_ties`` adds the tie mask.
    """
    rtol = _rtol(rtol)
    ng = _norm(grad_Hc)
    s, tie = _sign_of_product(
        _dot(xi_c, grad_Hc),
        _norm(xi_c) * ng,
        _dot(xi, grad_Hc) + ng**2,
        _norm(xi) * ng + ng**2,
        rtol,
    )
    return (s, tie) if return_ties else s


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


@overload
def exact_alignment_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = ...,
    return_ties: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def exact_alignment_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = ...,
    return_ties: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def exact_alignment_sign(
    xi: np.ndarray,
    xi_c: np.ndarray,
    grad_Hc: np.ndarray,
    *,
    rtol: float = TIE_RTOL,
    return_ties: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact sign of the alignment derivative for ``v = xi + grad H_c``.

    ``sign f'(0) = sign(<xi_c, g> (<v, g> |xi_c|^2 - <xi_c, g> <xi_c, v>))`` with ``g = grad H_c``
    (:func:`alignment_derivative` without its positive denominator). A tie counts as ``+1``;
    ``return_ties`` adds the tie mask. Where ``xi_c`` is parallel to ``g`` (Cournot, Tandem)
    the second factor vanishes identically: every point is a tie.
    """
    rtol = _rtol(rtol)
    v = xi + grad_Hc
    nx, ng, nV = _norm(xi_c), _norm(grad_Hc), _norm(xi) + _norm(grad_Hc)
    a = _dot(xi_c, grad_Hc)
    e = _dot(v, grad_Hc) * nx**2 - a * _dot(xi_c, v)
    s, tie = _sign_of_product(a, nx * ng, e, 2.0 * nV * ng * nx**2, rtol)
    return (s, tie) if return_ties else s


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
    """AgA with ``lambda = |lam| sign(alignment_derivative)``, the exact first-order sign.

    A course ablation. Where the derivative is a tie (identically in Cournot and Tandem)
    ``lambda = +|lam|`` by the tie rule, not by any alignment information.
    """
    return _aga(game, w, lam, exact=True)


class SignComparison(NamedTuple):
    """The paper's AgA sign and the exact alignment sign at many points, with their ties.

    ``paper``, ``exact``: ``(...)`` arrays of ``+-1`` (a tie counts as ``+1``);
    ``paper_tie``, ``exact_tie``: boolean masks of the ties.
    """

    paper: np.ndarray
    exact: np.ndarray
    paper_tie: np.ndarray
    exact_tie: np.ndarray

    @property
    def paper_ties(self) -> int:
        """How many points have a tie in the paper's sign."""
        return int(np.sum(self.paper_tie))

    @property
    def exact_ties(self) -> int:
        """How many points have a tie in the exact sign."""
        return int(np.sum(self.exact_tie))

    @property
    def decided(self) -> np.ndarray:
        """Points where neither sign is a tie."""
        return ~(self.paper_tie | self.exact_tie)

    @property
    def agreement(self) -> float:
        """Fraction of the decided points where the two signs agree (NaN if none is decided)."""
        ok = self.decided
        return float(np.mean(self.paper[ok] == self.exact[ok])) if ok.any() else float("nan")


def aga_signs(game: Game, w: np.ndarray, rtol: float = TIE_RTOL) -> SignComparison:
    """The paper's sign of ``lambda`` and the exact alignment sign at ``w``, with tie counts.

    ``aga_sign`` and ``exact_alignment_sign`` of ``(xi, xi_c, H_c xi_c)`` at every point of
    ``w`` (``(..., d)``); ``.agreement`` is the fraction of points without a tie where they
    agree, ``.paper_ties`` and ``.exact_ties`` count the ties.
    """
    w = check_w(game, w)
    G, Hs = game._grads(w), game._hessians(w)
    xi, xi_c = xi_from_grads(G, game.owner), G.sum(axis=-2)
    grad_Hc = hamiltonian_gradient(Hs.sum(axis=-3), xi_c)
    paper, paper_tie = aga_sign(xi, xi_c, grad_Hc, rtol=rtol, return_ties=True)
    exact, exact_tie = exact_alignment_sign(xi, xi_c, grad_Hc, rtol=rtol, return_ties=True)
    return SignComparison(paper, exact, paper_tie, exact_tie)


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
