"""Checks for lesson 09 — what AgA's sign guarantees: alignment, its measurement, its limits."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, _fmt, allclose
from rlcourse.games import (
    Game,
    QuadraticGame,
    aga_sign,
    aga_signs,
    alignment_derivative,
    collective_gradient,
    collective_hessian,
    exact_alignment_sign,
    hamiltonian_gradient,
    prisoners_dilemma,
    public_goods,
    simultaneous_gradient,
    stag_hunt,
)

__all__ = [
    "CASE_MARGIN",
    "clear_of_ties",
    "cos2",
    "cos2_change",
    "paper_sign_misaligns",
    "q1",
    "q2",
    "q3",
    "q4",
    "sign_agreement",
    "side_payment_game",
]

#: Test cases of q3/q4 keep only points whose signs are decided with this relative margin,
#: so that finite differences or a different but correct formula cannot land on the other side.
CASE_MARGIN = 1e-3


def side_payment_game() -> QuadraticGame:
    """``l_1 = x^2/2 + (x + y)``, ``l_2 = 3 y^2/2 - (x + y)``: player 1 pays player 2 ``x + y``.

    The payment cancels in the collective loss ``l_c = 1/2 w^T diag(1, 3) w`` (a stable fixed
    point at ``w = 0``: ``H_c = diag(1, 3)`` is positive definite), but not in
    ``xi = (x + 1, 3y - 1)``, so ``xi(0) = (1, -1) != 0``. A choice of this course: the
    counterexample to the alignment claim as stated.
    """
    Q = np.array([np.diag([1.0, 0.0]), np.diag([0.0, 3.0])])
    b = np.array([[1.0, 1.0], [-1.0, -1.0]])
    return QuadraticGame(Q, b, np.zeros(2), np.arange(2), "side payment")


def _terms(game: Game, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xi, xi_c = simultaneous_gradient(game, w), collective_gradient(game, w)
    return xi, xi_c, hamiltonian_gradient(collective_hessian(game, w), xi_c)


def clear_of_ties(
    xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray, margin: float = CASE_MARGIN
) -> np.ndarray:
    """Points where both the paper's and the exact sign are decided with relative ``margin``."""
    _, t1 = aga_sign(xi, xi_c, grad_Hc, rtol=margin, return_ties=True)
    _, t2 = exact_alignment_sign(xi, xi_c, grad_Hc, rtol=margin, return_ties=True)
    return ~(t1 | t2)


def _clear_points(game: Game, w: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` points of ``w`` clear of ties (see :func:`clear_of_ties`)."""
    keep = w[clear_of_ties(*_terms(game, w))]
    if len(keep) < n:
        raise RuntimeError(f"only {len(keep)} of {len(w)} points of {game.name} clear of ties")
    return keep[:n]


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
    """Games where neither sign is ever a tie at the chosen points (no Cournot, no Tandem:
    there the exact derivative is identically zero)."""
    side = side_payment_game()
    angles = rng.uniform(0, 2 * np.pi, 600)
    circle = 0.05 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)

    def pts(game: Game, lo: float, hi: float, n: int) -> np.ndarray:
        return _clear_points(game, rng.uniform(lo, hi, size=(4 * n, 2)), n)

    return [
        Case((public_goods(), pts(public_goods(), -3, 3, 400)), note="public goods, 400 points"),
        Case((stag_hunt(), pts(stag_hunt(), -3, 3, 400)), note="stag hunt, 400 points"),
        Case(
            (side, _clear_points(side, circle, 300)),
            note="the side-payment game, 300 points at distance 0.05 from w* = 0",
        ),
        Case((prisoners_dilemma(), pts(prisoners_dilemma(), -3, 3, 7)), note="PD, 7 points"),
    ]


def _agreement_wrong_exact(game: Game, w: np.ndarray) -> float:
    xi, xi_c, g = _terms(game, w)
    exact = np.where(alignment_derivative(xi_c, xi, g) >= 0, 1.0, -1.0)  # v = xi, not xi + g
    return float(np.mean(aga_sign(xi, xi_c, g) == exact))


def _agreement_a_b_plus_c(game: Game, w: np.ndarray) -> float:
    xi, xi_c, g = _terms(game, w)
    dot = np.einsum
    a, b = dot("...k,...k", xi_c, g), dot("...k,...k", xi, g)
    paper = np.where(a * b + dot("...k,...k", g, g) >= 0, 1.0, -1.0)  # a*b + c, not a*(b + c)
    return float(np.mean(paper == exact_alignment_sign(xi, xi_c, g)))


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
        "`games.aga_sign(xi, xi_c, g)` is the paper's sign; the exact one is the sign of your "
        "q1 function `alignment_derivative(xi_c, xi + g, g)` (or of a finite difference of "
        "cos²). Return the mean of `paper == exact` as a float.",
        "Or in one line: `return games.aga_signs(game, w).agreement`.",
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
        "```\n"
        "The test points are clear of ties, so any correct way to get the exact sign gives "
        "the same answer. The library's `games.aga_signs(game, w)` also reports ties and "
        "leaves them out of `.agreement`."
    ),
    broken=[
        _agreement_wrong_exact,
        _agreement_a_b_plus_c,
        lambda game, w: float(np.sum(aga_signs(game, w).paper == aga_signs(game, w).exact)),
        lambda game, w: float(np.mean(aga_signs(game, w).paper != aga_signs(game, w).exact)),
    ],
)


# ---- q4: the counterexample ---------------------------------------------------------------


def paper_sign_misaligns(xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
    """Where the paper-signed AgA direction is LESS aligned with ``grad H_c`` than ``xi_c``.

    ``lambda f'(0) < 0`` with ``lambda = aga_sign(xi, xi_c, g)`` and ``f'(0)`` the alignment
    derivative for ``v = xi + g``, ``g = grad H_c``; i.e. the paper's sign differs from the
    exact one. Boolean ``(...)``; ``False`` where either sign is a tie.
    """
    s, t1 = aga_sign(xi, xi_c, grad_Hc, return_ties=True)
    e, t2 = exact_alignment_sign(xi, xi_c, grad_Hc, return_ties=True)
    return (s != e) & ~t1 & ~t2


def _q4_cases(rng: np.random.Generator) -> list[Case]:
    side = side_payment_game()
    out = []
    for r, n in ((0.1, 40), (0.01, 60)):
        angles = rng.uniform(0, 2 * np.pi, 4 * n)
        w = _clear_points(side, r * np.stack([np.cos(angles), np.sin(angles)], -1), n)
        out.append(
            Case(_terms(side, w), note=f"the side-payment game, {n} points at distance {r:g}")
        )
    pgg = public_goods()
    w = _clear_points(pgg, rng.uniform(-3, 3, size=(200, 2)), 50)
    out.append(Case(_terms(pgg, w), note="public goods, 50 points"))
    xi, xi_c, g = rng.normal(size=(3, 400, 3))
    keep = clear_of_ties(xi, xi_c, g)
    out.append(Case((xi[keep][:100], xi_c[keep][:100], g[keep][:100]), note="random, d = 3"))
    return out


def _q4_compare(got: object, expected: np.ndarray) -> str | None:
    if got is None:
        return "your function returned None — did you forget a `return`?"
    try:
        g = np.asarray(got)
    except Exception:  # noqa: BLE001
        return f"expected a boolean array, got {type(got).__name__}"
    if g.shape != expected.shape:
        return f"wrong shape: expected {expected.shape} (one answer per point), got {g.shape}"
    if g.dtype != bool:
        if not np.isin(g, (0, 1)).all():
            return f"expected True/False per point, got values such as {_fmt(g.ravel()[:4])}"
        g = g.astype(bool)
    if np.array_equal(g, expected):
        return None
    if np.array_equal(g, ~expected):
        return (
            "every answer is inverted: True should mark the points where the paper-signed "
            "direction is LESS aligned, λ·f'(0) < 0"
        )
    bad = int(np.sum(g != expected))
    return (
        f"{bad} of {expected.size} answers differ (expected {int(expected.sum())} True, got "
        f"{int(g.sum())}). True means λ·f'(0) < 0 with λ from the paper's rule and f'(0) "
        "the alignment derivative for v = ξ + ∇ℋ_c"
    )


q4 = Exercise(
    lesson="09",
    id="q4",
    reference=paper_sign_misaligns,
    cases=_q4_cases,
    compare=_q4_compare,
    hints=[
        "With λ = |λ|·(the paper's sign), adding λv changes cos² at the rate λ·f'(0) (the "
        "chain rule). The direction is less aligned when that rate is negative.",
        "`s = games.aga_sign(xi, xi_c, grad_Hc)`; `fp = alignment_derivative(xi_c, xi + grad_Hc, "
        "grad_Hc)` (yours from q1, or `games.alignment_derivative`).",
        "`return s * fp < 0`",
    ],
    solution_text=(
        "```python\n"
        "def paper_sign_misaligns(xi, xi_c, grad_Hc):\n"
        "    s = games.aga_sign(xi, xi_c, grad_Hc)\n"
        "    fp = games.alignment_derivative(xi_c, xi + grad_Hc, grad_Hc)\n"
        "    return s * fp < 0\n"
        "```\n"
        "Equivalently: the paper's sign differs from the exact sign of f'(0). The test points "
        "are clear of ties."
    ),
    broken=[
        lambda xi, xi_c, grad_Hc: ~paper_sign_misaligns(xi, xi_c, grad_Hc),
        lambda xi, xi_c, grad_Hc: alignment_derivative(xi_c, xi + grad_Hc, grad_Hc) < 0,
        lambda xi, xi_c, grad_Hc: (
            aga_sign(xi, xi_c, grad_Hc) * alignment_derivative(xi_c, xi, grad_Hc) < 0
        ),
    ],
)
