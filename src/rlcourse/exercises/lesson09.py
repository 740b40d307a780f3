"""Checks for lesson 09 — what AgA's sign guarantees: alignment, its measurement, its limits."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose
from rlcourse.games import (
    Game,
    aga_signs,
    alignment_derivative,
    cournot,
    prisoners_dilemma,
    public_goods,
    stag_hunt,
    tandem,
)

__all__ = ["cos2", "cos2_change", "q1", "q2", "q3", "sign_agreement"]


def cos2(u: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``cos^2`` of the angle between ``u`` and ``g`` over the last axis (0 if either is 0)."""
    ug = np.einsum("...k,...k->...", u, g)
    den = np.einsum("...k,...k->...", u, u) * np.einsum("...k,...k->...", g, g)
    ok = den > 0
    return np.where(ok, ug**2 / np.where(ok, den, 1.0), 0.0)


def cos2_change(xi_c: np.ndarray, v: np.ndarray, grad_Hc: np.ndarray, lam: float) -> np.ndarray:
    """``cos^2 angle(xi_c + lam v, grad_Hc) - cos^2 angle(xi_c, grad_Hc)``: ``(...)``."""
    return cos2(xi_c + lam * v, grad_Hc) - cos2(xi_c, grad_Hc)


def sign_agreement(game: Game, w: np.ndarray) -> float:
    """Fraction of the points ``w`` (``(batch, d)``) where the paper's AgA sign equals the
    exact sign of the alignment derivative, among the points where neither sign is a tie
    (:func:`rlcourse.games.aga_signs`; NaN if every point is a tie)."""
    return aga_signs(game, w).agreement


def _vectors(rng: np.random.Generator, batch: tuple[int, ...], d: int) -> tuple[np.ndarray, ...]:
    return tuple(rng.normal(size=batch + (d,)) for _ in range(3))


# ---- q1: the alignment derivative ----------------------------------------------------------------


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])),
            note="ξ_c = e₁, v = e₂, ∇ℋ_c = (1, 1): turning towards ∇ℋ_c",
        ),
        Case(
            (np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 1.0])),
            note="v parallel to ξ_c: the angle does not change, the derivative is 0",
        ),
        Case(_vectors(rng, (), 3), note="random vectors, d = 3"),
        Case(_vectors(rng, (25,), 4), note="a batch of 25, d = 4"),
        Case(
            (np.zeros(2), np.array([1.0, 2.0]), np.array([3.0, -1.0])),
            note="ξ_c = 0: no angle, return 0 (not NaN)",
        ),
    ]


q1 = Exercise(
    lesson="09",
    id="q1",
    reference=alignment_derivative,
    cases=_q1_cases,
    compare=allclose(rtol=1e-6, atol=1e-10),
    hints=[
        "Write f(λ) = ⟨u, g⟩² / (‖u‖² ‖g‖²) with u = ξ_c + λv and g = ∇ℋ_c. Differentiate "
        "the numerator and the denominator at λ = 0 (quotient rule): d⟨u,g⟩/dλ = ⟨v,g⟩, "
        "d‖u‖²/dλ = 2⟨ξ_c, v⟩.",
        "f'(0) = 2⟨ξ_c,g⟩(⟨v,g⟩‖ξ_c‖² − ⟨ξ_c,g⟩⟨ξ_c,v⟩) / (‖ξ_c‖⁴ ‖g‖²). Inner products "
        "over the last axis: `(x * y).sum(-1)`. Where the denominator is 0, return 0.",
        "`xg = (xi_c*grad_Hc).sum(-1); xx = (xi_c*xi_c).sum(-1); gg = (grad_Hc*grad_Hc).sum(-1)`; "
        "`num = 2*xg*((v*grad_Hc).sum(-1)*xx - xg*(xi_c*v).sum(-1))`; `den = xx**2 * gg`; "
        "`return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)`",
    ],
    solution_text=(
        "```python\n"
        "def alignment_derivative(xi_c, v, grad_Hc):\n"
        "    xg = (xi_c * grad_Hc).sum(-1)\n"
        "    xx = (xi_c * xi_c).sum(-1)\n"
        "    gg = (grad_Hc * grad_Hc).sum(-1)\n"
        "    num = 2 * xg * ((v * grad_Hc).sum(-1) * xx - xg * (xi_c * v).sum(-1))\n"
        "    den = xx**2 * gg\n"
        "    ok = den > 0\n"
        "    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)\n"
        "```\n"
        "The second term of the numerator vanishes when ⟨ξ_c, v⟩ = 0; then the sign is that of "
        "⟨ξ_c, g⟩⟨v, g⟩ — the paper's rule."
    ),
    broken=[
        lambda xi_c, v, grad_Hc: (
            2
            * (xi_c * grad_Hc).sum(-1)
            * (v * grad_Hc).sum(-1)
            / np.maximum((xi_c * xi_c).sum(-1) * (grad_Hc * grad_Hc).sum(-1), 1e-300)
            * ((xi_c * xi_c).sum(-1) > 0)
        ),
        lambda xi_c, v, grad_Hc: -alignment_derivative(xi_c, v, grad_Hc),
        lambda xi_c, v, grad_Hc: (
            2
            * (xi_c * grad_Hc).sum(-1)
            * (
                (v * grad_Hc).sum(-1) * (xi_c * xi_c).sum(-1)
                - (xi_c * grad_Hc).sum(-1) * (xi_c * v).sum(-1)
            )
            / ((xi_c * xi_c).sum(-1) ** 2 * (grad_Hc * grad_Hc).sum(-1))
        ),
    ],
)


# ---- q2: the exact change of alignment ----------------------------------------------------


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    a, b, c = _vectors(rng, (), 2)
    A, B, Cc = _vectors(rng, (30,), 3)
    return [
        Case(
            (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0]), 1.0),
            note="ξ_c = e₁, v = e₂, ∇ℋ_c = (1, 1), λ = 1: cos² goes from 1/2 to 1",
        ),  # fmt: skip
        Case((a, b, c, -0.3), note="random vectors, λ = −0.3"),
        Case((A, B, Cc, 0.05), note="a batch of 30, d = 3, λ = 0.05"),
    ]


q2 = Exercise(
    lesson="09",
    id="q2",
    reference=cos2_change,
    cases=_q2_cases,
    hints=[
        "cos² of the angle between u and g is ⟨u, g⟩² / (‖u‖² ‖g‖²). Compute it for "
        "u = ξ_c + λv and for u = ξ_c, and subtract.",
        "Write a small helper `cos2(u, g)` with `(u * g).sum(-1) ** 2 / ((u * u).sum(-1) * "
        "(g * g).sum(-1))` so it works on batches; then "
        "`cos2(xi_c + lam * v, grad_Hc) - cos2(xi_c, grad_Hc)`.",
    ],
    solution_text=(
        "```python\n"
        "def cos2_change(xi_c, v, grad_Hc, lam):\n"
        "    def cos2(u, g):\n"
        "        return (u * g).sum(-1) ** 2 / ((u * u).sum(-1) * (g * g).sum(-1))\n"
        "    return cos2(xi_c + lam * v, grad_Hc) - cos2(xi_c, grad_Hc)\n"
        "```"
    ),
    broken=[
        lambda xi_c, v, grad_Hc, lam: cos2(xi_c + lam * v, grad_Hc),
        lambda xi_c, v, grad_Hc, lam: (
            ((xi_c + lam * v) * grad_Hc).sum(-1) - (xi_c * grad_Hc).sum(-1)
        ),
        lambda xi_c, v, grad_Hc, lam: cos2(xi_c + v, grad_Hc) - cos2(xi_c, grad_Hc),
    ],
)


# ---- q3: how often the paper's sign is the exact one --------------------------------------


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((public_goods(), rng.uniform(-3, 3, size=(400, 2))), note="public goods, 400 points"),
        Case((stag_hunt(), rng.uniform(-3, 3, size=(400, 2))), note="stag hunt, 400 points"),
        Case((cournot(), rng.uniform(0, 5, size=(400, 2))), note="Cournot, 400 points"),
        Case((tandem(), rng.normal(size=(50, 2))), note="tandem, 50 points"),
        Case((prisoners_dilemma(), rng.uniform(-3, 3, size=(7, 2))), note="PD, 7 points"),
    ]


def _agreement_wrong_exact(game: Game, w: np.ndarray) -> float:
    from rlcourse.games import (
        aga_sign,
        collective_gradient,
        collective_hessian,
        hamiltonian_gradient,
        simultaneous_gradient,
    )

    xi, xi_c = simultaneous_gradient(game, w), collective_gradient(game, w)
    g = hamiltonian_gradient(collective_hessian(game, w), xi_c)
    exact = np.where(alignment_derivative(xi_c, xi, g) >= 0, 1.0, -1.0)  # v = xi, not xi + g
    return float(np.mean(aga_sign(xi, xi_c, g) == exact))


q3 = Exercise(
    lesson="09",
    id="q3",
    reference=sign_agreement,
    cases=_q3_cases,
    compare=allclose(rtol=0, atol=1e-12),
    hints=[
        "At each point compute ξ, ξ_c and ∇ℋ_c = H_c ξ_c (library: `games.simultaneous_gradient`, "
        "`games.collective_gradient`, `games.collective_hessian`, `games.hamiltonian_gradient`), "
        "then the paper's sign and the sign of the alignment derivative for v = ξ + ∇ℋ_c.",
        "`games.aga_sign(xi, xi_c, g)` is the paper's sign; the exact one is "
        "`np.where(games.alignment_derivative(xi_c, xi + g, g) >= 0, 1.0, -1.0)` (ties count +). "
        "Return the mean of `paper == exact` as a float.",
        "Or in one line: `paper, exact = games.aga_signs(game, w); "
        "return float(np.mean(paper == exact))`.",
    ],
    solution_text=(
        "```python\n"
        "def sign_agreement(game, w):\n"
        "    xi = games.simultaneous_gradient(game, w)\n"
        "    xi_c = games.collective_gradient(game, w)\n"
        "    g = games.hamiltonian_gradient(games.collective_hessian(game, w), xi_c)\n"
        "    paper = games.aga_sign(xi, xi_c, g)\n"
        "    exact = np.where(games.alignment_derivative(xi_c, xi + g, g) >= 0, 1.0, -1.0)\n"
        "    return float(np.mean(paper == exact))\n"
        "```"
    ),
    broken=[
        _agreement_wrong_exact,
        lambda game, w: float(np.sum(aga_signs(game, w).paper == aga_signs(game, w).exact)),
        lambda game, w: float(np.mean(aga_signs(game, w).paper != aga_signs(game, w).exact)),
    ],
)
