"""Checks for lesson 07 — rotation, consensus optimisation and SGA."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, _fmt, allclose
from rlcourse.games import (
    QuadraticGame,
    consensus_direction,
    decompose,
    matching_pennies,
    sga_direction,
    sga_sign,
    simultaneous_gradient,
)

__all__ = ["q1", "q2", "q3", "q4", "random_xi_H", "repelling_game"]


def repelling_game() -> QuadraticGame:
    """``l_1 = -x^2/2 + x y``, ``l_2 = -y^2/2 - x y``: ``H = [[-1, 1], [-1, -1]]`` everywhere.

    ``S = -I`` (each player sits at a maximum of its own loss), ``A != 0``: the fixed point
    ``w = 0`` is unstable, simultaneous descent spirals away from it. A choice of this course.
    """
    Q1 = np.array([[-1.0, 1.0], [1.0, 0.0]])
    Q2 = np.array([[0.0, -1.0], [-1.0, -1.0]])
    return QuadraticGame(
        np.stack([Q1, Q2]), np.zeros((2, 2)), np.zeros(2), np.arange(2), "repelling spiral"
    )


def random_xi_H(
    rng: np.random.Generator, batch: tuple[int, ...], d: int, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Random ``xi`` ``batch + (d,)`` and a non-symmetric ``H`` ``batch + (d, d)``."""
    return scale * rng.normal(size=batch + (d,)), rng.normal(size=batch + (d, d))


# ---- q1: how fast simultaneous descent spirals out of the bilinear game ------------------------


def _spiral_growth(lr: float) -> float:
    """Measured ``|w_1|^2 / |w_0|^2`` of one Simul-Ind step on ``l_1 = x y, l_2 = -x y``."""
    w0 = np.array([0.6, -0.8])
    w1 = w0 - lr * simultaneous_gradient(matching_pennies(), w0)
    return float(w1 @ w1 / (w0 @ w0))


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((0.1,), note="step size 0.1"),
        Case((1.0,), note="step size 1"),
        Case((float(rng.uniform(0.01, 0.5)),), note="a random step size"),
        Case((float(rng.uniform(1.0, 3.0)),), note="a large random step size"),
    ]


q1 = Exercise(
    lesson="07",
    id="q1",
    reference=_spiral_growth,
    cases=_q1_cases,
    compare=allclose(rtol=1e-9, atol=1e-12),
    hints=[
        "Write one step w' = w − α ξ(w) with ξ(x, y) = (y, −x) and compute x'² + y'².",
        "x' = x − α y and y' = y + α x. Expand: the cross terms −2αxy and +2αxy cancel.",
        "‖w'‖² = (1 + α²)(x² + y²), so the factor is `1 + lr**2`, whatever w is.",
    ],
    solution_text=(
        "```python\n"
        "def spiral_growth(lr):\n"
        "    return 1 + lr**2\n"
        "```\n"
        "x' = x − αy, y' = y + αx, so x'² + y'² = x² + y² + α²(x² + y²): every step moves "
        "perpendicular to w and the radius grows by √(1 + α²), for every step size α > 0."
    ),
    broken=[
        lambda lr: 1 + lr,
        lambda lr: 1 - lr**2,
        lambda lr: np.sqrt(1 + lr**2),
        lambda lr: 1.0,
    ],
)


# ---- q2: consensus optimisation ----------------------------------------------------------------


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    xi, H = random_xi_H(rng, (), 2)
    xi3, H3 = random_xi_H(rng, (), 3)
    xib, Hb = random_xi_H(rng, (5,), 4)
    return [
        Case(
            (np.array([0.5, -1.0]), np.array([[0.0, 1.0], [-1.0, 0.0]]), 1.0),
            note="the bilinear game at w = (1, 0.5), γ = 1",
        ),  # fmt: skip
        Case((xi, H, 0.5), note="a random non-symmetric H, γ = 0.5"),
        Case((xi3, H3, 2.0), note="d = 3, γ = 2"),
        Case((xib, Hb, 0.3), note="a batch of 5 points, d = 4"),
    ]


q2 = Exercise(
    lesson="07",
    id="q2",
    reference=consensus_direction,
    cases=_q2_cases,
    hints=[
        "The direction is ξ + γ ∇ℋ with ℋ = ½‖ξ‖², and the chain rule gives ∇ℋ = Hᵀξ.",
        "(Hᵀξ)_m = Σ_k H_km ξ_k: it contracts the FIRST matrix index with ξ. For a batch, "
        "`np.einsum('...km,...k->...m', H, xi)` does it.",
        "`return xi + gamma * np.einsum('...km,...k->...m', H, xi)`",
    ],
    solution_text=(
        "```python\n"
        "def consensus_direction(xi, H, gamma):\n"
        "    return xi + gamma * np.einsum('...km,...k->...m', H, xi)\n"
        "```\n"
        "Writing `H @ xi` computes Hξ, not Hᵀξ; the two differ whenever A ≠ 0."
    ),
    broken=[
        lambda xi, H, gamma: xi + gamma * np.einsum("...km,...m->...k", H, xi),
        lambda xi, H, gamma: xi - gamma * np.einsum("...km,...k->...m", H, xi),
        lambda xi, H, gamma: gamma * np.einsum("...km,...k->...m", H, xi),
    ],
)


# ---- q3: the SGA sign ---------------------------------------------------------------------------


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    xi, H = random_xi_H(rng, (), 2)
    xib, Hb = random_xi_H(rng, (400,), 3, scale=0.4)
    xib2, Hb2 = random_xi_H(rng, (300,), 2, scale=0.5)
    return [
        Case(
            (np.array([1.0, 0.5]), np.array([[-1.0, 1.0], [-1.0, -1.0]]), 0.1),
            note="the repelling game at w = (-0.75, 0.25)",
        ),  # fmt: skip
        Case((xi, H, 0.1), note="one random point, d = 2"),
        Case((xib, Hb, 0.1), note="400 small random cases (d = 3), where ε and /d matter"),
        Case((xib2, Hb2, 0.01), note="300 random cases, d = 2, ε = 0.01"),
        Case(
            (rng.normal(size=(20, 2)) @ np.array([[0.0, -1.0], [1.0, 0.0]]), _BILINEAR_H, 0.0),
            note="the bilinear game with ε = 0: ⟨ξ, Hᵀξ⟩ = 0 exactly, a tie, which counts as +1",
        ),
    ]


_BILINEAR_H = np.array([[0.0, 1.0], [-1.0, 0.0]])


def _q3_compare(got: Any, expected: Any) -> str | None:
    g = np.asarray(got, dtype=float) if got is not None else None
    if g is not None and g.shape == np.shape(expected) and np.any((g == 0) & (expected == 1)):
        k = int(np.sum(g == 0))
        return (
            f"got 0 at {k} point(s) where the bracket is exactly 0 — `np.sign` returns 0 "
            "there. A tie counts as +1: use `np.where(value >= 0, 1.0, -1.0)`"
        )
    return allclose(rtol=0, atol=0)(got, expected)


def _sga_sign_no_d(xi: np.ndarray, H: np.ndarray, eps: float = 0.1) -> np.ndarray:
    Ht_xi = np.einsum("...km,...k->...m", H, xi)
    At_xi = np.einsum("...km,...k->...m", decompose(H)[1], xi)
    p = np.einsum("...k,...k->...", xi, Ht_xi) * np.einsum("...k,...k->...", At_xi, Ht_xi)
    return np.where(p + eps >= 0, 1.0, -1.0)


def _sga_sign_A_xi(xi: np.ndarray, H: np.ndarray, eps: float = 0.1) -> np.ndarray:
    Ht_xi = np.einsum("...km,...k->...m", H, xi)
    A_xi = np.einsum("...km,...m->...k", decompose(H)[1], xi)
    p = np.einsum("...k,...k->...", xi, Ht_xi) * np.einsum("...k,...k->...", A_xi, Ht_xi)
    return np.where(p / xi.shape[-1] + eps >= 0, 1.0, -1.0)


def _sga_sign_np_sign(xi: np.ndarray, H: np.ndarray, eps: float = 0.1) -> np.ndarray:
    Ht_xi = np.einsum("...km,...k->...m", H, xi)
    At_xi = np.einsum("...km,...k->...m", decompose(H)[1], xi)
    p = np.einsum("...k,...k->...", xi, Ht_xi) * np.einsum("...k,...k->...", At_xi, Ht_xi)
    return np.sign(p / xi.shape[-1] + eps)


q3 = Exercise(
    lesson="07",
    id="q3",
    reference=sga_sign,
    cases=_q3_cases,
    compare=_q3_compare,
    hints=[
        "Compute the two vectors ∇ℋ = Hᵀξ and Aᵀξ (A = (H − Hᵀ)/2), then the two inner "
        "products ⟨ξ, Hᵀξ⟩ and ⟨Aᵀξ, Hᵀξ⟩ over the last axis.",
        "The sign is that of ⟨ξ, Hᵀξ⟩·⟨Aᵀξ, Hᵀξ⟩ / d + ε, with d = `xi.shape[-1]`; return "
        "+1.0 where it is ≥ 0 and −1.0 elsewhere (`np.where`), one value per batch item.",
        "`Ht_xi = np.einsum('...km,...k->...m', H, xi)`; `At_xi = (Ht_xi - "
        "np.einsum('...km,...m->...k', H, xi)) / 2`; `p = (xi * Ht_xi).sum(-1) * "
        "(At_xi * Ht_xi).sum(-1)`; `return np.where(p / xi.shape[-1] + eps >= 0, 1.0, -1.0)`",
    ],
    solution_text=(
        "```python\n"
        "def sga_sign(xi, H, eps=0.1):\n"
        "    Ht_xi = np.einsum('...km,...k->...m', H, xi)      # H^T xi = grad of the Hamiltonian\n"
        "    H_xi = np.einsum('...km,...m->...k', H, xi)\n"
        "    At_xi = 0.5 * (Ht_xi - H_xi)                       # A^T xi\n"
        "    p = (xi * Ht_xi).sum(-1) * (At_xi * Ht_xi).sum(-1)\n"
        "    return np.where(p / xi.shape[-1] + eps >= 0, 1.0, -1.0)\n"
        "```"
    ),
    broken=[
        _sga_sign_no_d,
        _sga_sign_A_xi,
        lambda xi, H, eps=0.1: -sga_sign(xi, H, eps),
        _sga_sign_np_sign,
    ],
)


# ---- q4: the SGA direction ----------------------------------------------------------------------


def _q4_cases(rng: np.random.Generator) -> list[Case]:
    xi, H = random_xi_H(rng, (), 2)
    xib, Hb = random_xi_H(rng, (50,), 3, scale=0.5)
    return [
        Case(
            (np.array([0.5, -1.0]), np.array([[0.0, 1.0], [-1.0, 0.0]]), 1.0, 0.1),
            note="the bilinear game at w = (1, 0.5), |λ| = 1",
        ),  # fmt: skip
        Case(
            (np.array([1.0, 0.5]), np.array([[-1.0, 1.0], [-1.0, -1.0]]), 2.0, 0.1),
            note="the repelling game at w = (-0.75, 0.25), |λ| = 2: λ must be negative here",
        ),  # fmt: skip
        Case((xi, H, 0.7, 0.1), note="a random point, |λ| = 0.7"),
        Case((xib, Hb, 1.5, 0.1), note="a batch of 50 points, d = 3: one λ sign per point"),
        Case(
            (xib, Hb, -1.5, 0.1),
            note="the same batch with lam = −1.5: only |lam| is used, the sign comes from the rule",
        ),
    ]


def _At_xi(xi: np.ndarray, H: np.ndarray) -> np.ndarray:
    return np.einsum("...km,...k->...m", decompose(H)[1], xi)


def _q4_diagnosis(got: np.ndarray, xi: np.ndarray, H: np.ndarray, lam: float, eps: float) -> str:
    """Name a known mistake that ``got`` follows, or ''."""
    s = sga_sign(xi, H, eps)
    At = _At_xi(xi, H)
    known = {
        "λ = lam·sign without abs(): a negative lam flips every sign. Use "
        "`abs(lam) * sga_sign(...)`": xi + (lam * s)[..., None] * At,
        "no sign rule (λ = +|lam| everywhere)": xi + abs(lam) * At,
        "Aξ instead of Aᵀξ (contract the first index of A with ξ)": xi
        + (abs(lam) * s)[..., None] * np.einsum("...km,...m->...k", decompose(H)[1], xi),
        "Hᵀξ instead of Aᵀξ (that is CO, not SGA)": xi
        + (abs(lam) * s)[..., None] * np.einsum("...km,...k->...m", H, xi),
    }
    for what, candidate in known.items():
        if np.allclose(got, candidate, rtol=1e-6, atol=1e-8):
            return f" Your direction follows {what}."
    return ""


def _q4_verify(fn: Callable[..., Any], rng: np.random.Generator) -> str | None:
    for i, case in enumerate(_q4_cases(rng), start=1):
        xi, H, lam, eps = case.args
        expected = sga_direction(xi, H, lam, eps)
        got = fn(xi.copy(), H.copy(), lam, eps)
        if got is None:
            return "your function returned None — did you forget a `return`?"
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return f"expected an array of shape {expected.shape}, got {type(got).__name__}"
        if got.shape != expected.shape:
            return (
                f"test case {i} ({case.note}): wrong shape: expected {expected.shape}, "
                f"got {got.shape}"
            )
        if np.allclose(got, expected, rtol=1e-6, atol=1e-8):
            continue
        return (
            f"Test case {i} ({case.note}): the direction differs."
            f"{_q4_diagnosis(got, xi, H, lam, eps)}\n"
            f"  lam = {lam:g}, eps = {eps:g}\n  expected {_fmt(expected)}\n  got      {_fmt(got)}"
        )
    return None


q4 = Exercise(
    lesson="07",
    id="q4",
    reference=sga_direction,
    verify=_q4_verify,
    hints=[
        "SGA adds the antisymmetric part only: ξ + λ Aᵀξ, with λ = |lam| times the sign "
        "of your `sga_sign` (the library's `games.sga_sign` may be used).",
        "Aᵀξ = (Hᵀξ − Hξ)/2. The sign has shape (...) — one per batch item — so add an axis "
        "before multiplying a (..., d) vector: `lam_signed[..., None] * At_xi`.",
        "`At_xi = 0.5 * (np.einsum('...km,...k->...m', H, xi) - np.einsum('...km,...m->...k', "
        "H, xi))`; `s = games.sga_sign(xi, H, eps)`; "
        "`return xi + (abs(lam) * s)[..., None] * At_xi`",
    ],
    solution_text=(
        "```python\n"
        "def sga_direction(xi, H, lam, eps=0.1):\n"
        "    Ht_xi = np.einsum('...km,...k->...m', H, xi)\n"
        "    H_xi = np.einsum('...km,...m->...k', H, xi)\n"
        "    At_xi = 0.5 * (Ht_xi - H_xi)\n"
        "    lam_signed = abs(lam) * games.sga_sign(xi, H, eps)\n"
        "    return xi + lam_signed[..., None] * At_xi\n"
        "```"
    ),
    broken=[
        lambda xi, H, lam, eps=0.1: xi + (lam * sga_sign(xi, H, eps))[..., None] * _At_xi(xi, H),
        lambda xi, H, lam, eps=0.1: (
            xi + abs(lam) * np.einsum("...km,...k->...m", decompose(H)[1], xi)
        ),
        lambda xi, H, lam, eps=0.1: (
            xi
            + (abs(lam) * sga_sign(xi, H, eps))[..., None]
            * np.einsum("...km,...m->...k", decompose(H)[1], xi)
        ),
        lambda xi, H, lam, eps=0.1: (
            xi + (abs(lam) * sga_sign(xi, H, eps))[..., None] * np.einsum("...km,...k->...m", H, xi)
        ),
    ],
)
