"""Checks for lesson 06 — differentiable games: xi, H and its S/A split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose
from rlcourse.games import (
    decompose,
    jacobian_from_hessians,
    public_goods,
    sigmoid,
    simultaneous_gradient,
    xi_from_grads,
)

__all__ = ["q1", "q2", "q3", "q4", "pair_compare", "random_hessians"]


def random_hessians(rng: np.random.Generator, shape: tuple[int, ...], d: int) -> np.ndarray:
    """Random symmetric matrices of shape ``shape + (d, d)`` (stand-ins for Hessians)."""
    M = rng.normal(size=shape + (d, d))
    return 0.5 * (M + np.swapaxes(M, -1, -2))


def pair_compare(
    names: tuple[str, str], rtol: float = 1e-6, atol: float = 1e-8
) -> Callable[[Any, Any], str | None]:
    """Compare a returned pair ``(x, y)`` to the expected pair, naming the part that differs."""
    inner = allclose(rtol, atol)

    def compare(got: Any, expected: Any) -> str | None:
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return f"expected a pair ({names[0]}, {names[1]}), got {type(got).__name__}"
        for name, g, e in zip(names, got, expected, strict=True):
            reason = inner(g, e)
            if reason:
                return f"{name} (element {names.index(name)} of the pair): {reason}"
        return None

    return compare


# ---- q1: xi from all players' gradients --------------------------------------------------------


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((rng.normal(size=(2, 2)), np.array([0, 1])), note="2 players, one parameter each"),
        Case((rng.normal(size=(3, 3)), np.array([0, 1, 2])), note="3 players, one parameter each"),
        Case(
            (rng.normal(size=(3, 5)), np.array([0, 0, 1, 2, 2])),
            note="3 players owning 2, 1 and 2 parameters",
        ),
        Case(
            (rng.normal(size=(4, 2, 3)), np.array([1, 0, 1])),
            note="a batch of 4 points; player 2 owns parameters 0 and 2",
        ),
    ]


q1 = Exercise(
    lesson="06",
    id="q1",
    reference=xi_from_grads,
    cases=_q1_cases,
    hints=[
        "Entry k of ξ is the derivative of the loss of the player who OWNS parameter k, "
        "with respect to parameter k: ξ_k = grads[owner[k], k].",
        "Index two axes at once with two integer arrays: `grads[..., owner, k]` with "
        "`k = np.arange(len(owner))` picks grads[..., owner[k], k] for every k.",
        "`return grads[..., owner, np.arange(len(owner))]` — the `...` keeps any batch axes.",
    ],
    solution_text=(
        "```python\n"
        "def xi_from_grads(grads, owner):\n"
        "    k = np.arange(len(owner))\n"
        "    return grads[..., owner, k]\n"
        "```\n"
        "With one parameter per player (`owner = [0, 1, ..., n-1]`) this is the diagonal of the "
        "(n, d) gradient matrix; with several parameters per player it is not."
    ),
    broken=[
        lambda grads, owner: np.diagonal(grads, axis1=-2, axis2=-1),
        lambda grads, owner: np.asarray(grads).sum(axis=-2),
        lambda grads, owner: np.asarray(grads)[..., np.arange(len(owner)), owner],
    ],
)


# ---- q2: xi of the public goods game, derived by hand ------------------------------------------


def _public_goods_xi(w: np.ndarray, p: float) -> np.ndarray:
    return simultaneous_gradient(public_goods(w.shape[-1], p), w)


def _q2_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([0.0, 0.0]), 1.5), note="two players at w = 0 (a = 1/2), p = 1.5"),
        Case((rng.normal(size=2), 1.5), note="two players, the paper's p = 1.5"),
        Case((rng.normal(size=3) * 2, 2.2), note="three players, p = 2.2"),
        Case((rng.normal(size=(5, 4)) * 3, 3.0), note="a batch of 5 points, four players, p = 3"),
    ]


q2 = Exercise(
    lesson="06",
    id="q2",
    reference=_public_goods_xi,
    cases=_q2_cases,
    hints=[
        "Write the loss ℓ_i = −r_i = a_i − 1 − (p/n) Σ_j a_j and differentiate it with respect "
        "to a_i first, then use the chain rule through a_i = σ(w_i).",
        "∂ℓ_i/∂a_i = 1 − p/n, and σ'(w) = σ(w)(1 − σ(w)). Player i's own parameter is w_i, so "
        "ξ_i = (1 − p/n) σ(w_i)(1 − σ(w_i)); n is `w.shape[-1]`.",
        "`a = sigmoid(w); n = w.shape[-1]; return (1 - p / n) * a * (1 - a)`",
    ],
    solution_text=(
        "```python\n"
        "def public_goods_xi(w, p):\n"
        "    a = sigmoid(w)\n"
        "    n = w.shape[-1]\n"
        "    return (1 - p / n) * a * (1 - a)\n"
        "```\n"
        "ξ_i > 0 everywhere when p < n: simultaneous descent lowers every a_i — every player "
        "stops contributing, whatever the others do."
    ),
    broken=[
        lambda w, p: (1 - p / w.shape[-1]) * np.ones_like(w),
        lambda w, p: (1 - p) * sigmoid(w) * (1 - sigmoid(w)),
        lambda w, p: -(1 - p / w.shape[-1]) * sigmoid(w) * (1 - sigmoid(w)),
        lambda w, p: (1 - p / 2) * sigmoid(w) * (1 - sigmoid(w)),
    ],
)


# ---- q3: the game Jacobian from all players' Hessians ------------------------------------------


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((random_hessians(rng, (2,), 2), np.array([0, 1])), note="2 players, d = 2"),
        Case(
            (random_hessians(rng, (3,), 4), np.array([0, 1, 1, 2])),
            note="3 players, player 2 owns parameters 1 and 2",
        ),
        Case(
            (random_hessians(rng, (6, 2), 3), np.array([0, 1, 0])),
            note="a batch of 6 points, 2 players, d = 3",
        ),
    ]


q3 = Exercise(
    lesson="06",
    id="q3",
    reference=jacobian_from_hessians,
    cases=_q3_cases,
    hints=[
        "Row k of H is the gradient of ξ_k = ∂ℓ_{owner[k]}/∂w_k, so it comes from the Hessian "
        "of player owner[k]: H[k, m] = hessians[owner[k], k, m].",
        "Use the same two-array indexing as for ξ, but keep the last axis whole: "
        "`hessians[..., owner, k, :]` with `k = np.arange(len(owner))`.",
        "`return hessians[..., owner, np.arange(len(owner)), :]`",
    ],
    solution_text=(
        "```python\n"
        "def jacobian_from_hessians(hessians, owner):\n"
        "    k = np.arange(len(owner))\n"
        "    return hessians[..., owner, k, :]\n"
        "```\n"
        "Each row comes from a different player's Hessian, which is why H is not symmetric in "
        "general although every Hessian is."
    ),
    broken=[
        lambda hessians, owner: np.asarray(hessians).sum(axis=-3),
        lambda hessians, owner: np.swapaxes(jacobian_from_hessians(hessians, owner), -1, -2),
        lambda hessians, owner: np.asarray(hessians)[..., 0, :, :],
    ],
)


# ---- q4: symmetric and antisymmetric parts -----------------------------------------------------


def _q4_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((np.array([[0.0, 1.0], [-1.0, 0.0]]),), note="the bilinear game: H is antisymmetric"),
        Case((np.array([[2.0, 2.0], [2.0, 2.0]]),), note="tandem: H is symmetric"),
        Case((rng.normal(size=(3, 3)),), note="a random 3 × 3 matrix"),
        Case((rng.normal(size=(4, 2, 2)),), note="a batch of 4 matrices, shape (4, 2, 2)"),
    ]


q4 = Exercise(
    lesson="06",
    id="q4",
    reference=decompose,
    cases=_q4_cases,
    compare=pair_compare(("S", "A")),
    hints=[
        "S = (H + Hᵀ)/2 and A = (H − Hᵀ)/2, so that H = S + A, Sᵀ = S and Aᵀ = −A.",
        "For a batch of shape (..., d, d), `H.T` reverses ALL axes; transpose only the last "
        "two with `np.swapaxes(H, -1, -2)`.",
        "`Ht = np.swapaxes(H, -1, -2); return 0.5 * (H + Ht), 0.5 * (H - Ht)`",
    ],
    solution_text=(
        "```python\n"
        "def decompose(H):\n"
        "    Ht = np.swapaxes(H, -1, -2)\n"
        "    return 0.5 * (H + Ht), 0.5 * (H - Ht)\n"
        "```"
    ),
    broken=[
        lambda H: (H + np.swapaxes(H, -1, -2), H - np.swapaxes(H, -1, -2)),
        lambda H: (0.5 * (H + H.T), 0.5 * (H - H.T)),
        lambda H: decompose(H)[::-1],
    ],
)
