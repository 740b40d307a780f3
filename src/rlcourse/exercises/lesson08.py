"""Checks for lesson 08 — mixed motives: the collective gradient and the AgA update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, _fmt
from rlcourse.exercises.lesson06 import pair_compare, random_hessians
from rlcourse.games import (
    aga_direction,
    aga_sign,
    exact_alignment_sign,
    hamiltonian_gradient,
    matching_pennies,
    prisoners_dilemma,
    public_goods,
    stag_hunt,
)

__all__ = ["SIGN_RULE", "q1", "q2", "q3", "sign_rule_diagnosis"]

SIGN_RULE = "λ = |λ|·sign(⟨ξ_c, ∇ℋ_c⟩(⟨ξ, ∇ℋ_c⟩ + ‖∇ℋ_c‖²))"


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", x, y)


def _sgn(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0)


def _wrong_rules(xi: np.ndarray, xi_c: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    """Signs of realistic wrong rules, by a description of the mistake."""
    xg, cg, gg = _dot(xi, g), _dot(xi_c, g), _dot(g, g)
    d = xi.shape[-1]
    return {
        "the opposite of the paper's sign (a flipped rule)": -aga_sign(xi, xi_c, g),
        "λ = +|λ| everywhere (no sign rule)": np.ones_like(cg),
        "λ = −|λ| everywhere": -np.ones_like(cg),
        "sign(⟨ξ_c, ∇ℋ_c⟩⟨ξ, ∇ℋ_c⟩): the ‖∇ℋ_c‖² term is missing": _sgn(cg * xg),
        "the bracketing a·b + c = ⟨ξ_c, ∇ℋ_c⟩⟨ξ, ∇ℋ_c⟩ + ‖∇ℋ_c‖²; the rule is a·(b + c), "
        "with ‖∇ℋ_c‖² inside the second factor": _sgn(cg * xg + gg),
        "the SGA-style rule sign(⟨ξ_c, ∇ℋ_c⟩⟨ξ + ∇ℋ_c, ∇ℋ_c⟩/d + ε)": _sgn(
            cg * (xg + gg) / d + 0.1
        ),
        "sign(⟨ξ, ∇ℋ_c⟩ + ‖∇ℋ_c‖²): the factor ⟨ξ_c, ∇ℋ_c⟩ is missing": _sgn(xg + gg),
        "the exact alignment sign (lesson 09), not the paper's rule": exact_alignment_sign(
            xi, xi_c, g
        ),
    }


def sign_rule_diagnosis(
    got_sign: np.ndarray, xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray
) -> str:
    """A sentence naming the wrong sign rule that ``got_sign`` follows, if a known one."""
    for what, s in _wrong_rules(xi, xi_c, grad_Hc).items():
        if np.array_equal(got_sign, s):
            return f" Your signs follow {what}."
    return ""


def _aga_cases(rng: np.random.Generator) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """(note, (xi, xi_c, H_c)): random points first (they tell wrong rules apart), then games."""
    xi = rng.normal(size=(300, 3))
    xi_c = rng.normal(size=(300, 3))
    out = [("300 random points, d = 3", (xi, xi_c, random_hessians(rng, (300,), 3)))]
    for game in (public_goods(), prisoners_dilemma(), stag_hunt()):
        w = rng.uniform(-3, 3, size=(40, 2))
        G, Hs = game.grads(w), game.hessians(w)
        xi = G[..., game.owner, np.arange(game.dim)]
        out.append((f"{game.name} at 40 random points", (xi, G.sum(-2), Hs.sum(-3))))
    zs = matching_pennies()  # zero-sum: l_1 + l_2 = 0, so xi_c = 0 and H_c = 0 exactly
    w = rng.uniform(-3, 3, size=(10, 2))
    G, Hs = zs.grads(w), zs.hessians(w)
    out.append(
        (
            "the zero-sum bilinear game (ξ_c = 0 everywhere: every sign is a tie, +1)",
            (G[..., zs.owner, np.arange(zs.dim)], G.sum(-2), Hs.sum(-3)),
        )
    )
    return out


_NP_SIGN = (
    "`np.sign` returns 0 at an exact zero, and in a zero-sum game ξ_c = 0, so every product "
    "is 0. A tie counts as +1: use `np.where(value >= 0, 1.0, -1.0)`"
)


# ---- q1: collective gradient and the gradient of the collective Hamiltonian ---------------------


def _collective_terms(grads: np.ndarray, hessians: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xi_c = grads.sum(axis=-2)
    return xi_c, hamiltonian_gradient(hessians.sum(axis=-3), xi_c)


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    pgg = public_goods()
    w = rng.normal(size=2)
    return [
        Case((pgg.grads(w), pgg.hessians(w)), note="the public goods game at a random w"),
        Case(
            (rng.normal(size=(3, 3)), random_hessians(rng, (3,), 3)),
            note="3 players, d = 3, random gradients and Hessians",
        ),
        Case(
            (rng.normal(size=(6, 2, 4)), random_hessians(rng, (6, 2), 4)),
            note="a batch of 6 points, 2 players, d = 4",
        ),
    ]


q1 = Exercise(
    lesson="08",
    id="q1",
    reference=_collective_terms,
    cases=_q1_cases,
    compare=pair_compare(("xi_c", "grad_Hc")),
    hints=[
        "ℓ_c = Σ_i ℓ_i, so ξ_c = ∇ℓ_c is the sum of ALL players' full gradients, and "
        "H_c = Σ_i ∇²ℓ_i is the sum of their Hessians. Sum over the player axis.",
        "The player axis is −2 in `grads` (…, n, d) and −3 in `hessians` (…, n, d, d). Then "
        "∇ℋ_c = H_c ξ_c (H_c is symmetric): `np.einsum('...km,...m->...k', H_c, xi_c)`.",
        "`xi_c = grads.sum(-2)`; `H_c = hessians.sum(-3)`; "
        "`return xi_c, np.einsum('...km,...m->...k', H_c, xi_c)`",
    ],
    solution_text=(
        "```python\n"
        "def collective_terms(grads, hessians):\n"
        "    xi_c = grads.sum(axis=-2)\n"
        "    H_c = hessians.sum(axis=-3)\n"
        "    return xi_c, np.einsum('...km,...m->...k', H_c, xi_c)\n"
        "```\n"
        "ξ_c differs from ξ: entry k of ξ_c counts how parameter k changes EVERY player's loss, "
        "not only its owner's."
    ),
    broken=[
        lambda grads, hessians: _collective_terms(grads, hessians)[::-1],
        lambda grads, hessians: (
            grads.sum(-2),
            np.einsum("...km,...k->...m", hessians.sum(-3), grads.sum(-2)) * 0.5,
        ),
        lambda grads, hessians: (grads.mean(-2), _collective_terms(grads, hessians)[1]),
        lambda grads, hessians: (
            grads[..., np.arange(grads.shape[-1]) % grads.shape[-2], np.arange(grads.shape[-1])],
            _collective_terms(grads, hessians)[1],
        ),
    ],
)


# ---- q2: the AgA sign ----------------------------------------------------------------------------


def _q2_verify(fn: Callable[..., Any], rng: np.random.Generator) -> str | None:
    for note, (xi, xi_c, H_c) in _aga_cases(rng):
        g = hamiltonian_gradient(H_c, xi_c)
        expected = aga_sign(xi, xi_c, g)
        got = fn(xi, xi_c, g)
        if got is None:
            return "your function returned None — did you forget a `return`?"
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return f"expected an array of ±1.0, got {type(got).__name__}"
        if got.shape != expected.shape:
            return (
                f"wrong shape on {note}: expected {expected.shape} (one sign per point, "
                f"inner products over the last axis), got {got.shape}"
            )
        if not np.isin(got, (-1.0, 1.0)).all():
            exact_zero = _dot(xi_c, g) * (_dot(xi, g) + _dot(g, g)) == 0
            if np.isin(got, (-1.0, 0.0, 1.0)).all() and np.all((got == 0) <= exact_zero):
                return f"On {note}: got 0 at {int(np.sum(got == 0))} points. {_NP_SIGN}."
            return f"expected only the values +1.0 and −1.0 (ties count as +1), got {_fmt(got)}"
        bad = np.flatnonzero(got != expected)
        if bad.size:
            i = int(bad[0])
            return (
                f"On {note}: the sign differs at {bad.size} of {expected.size} points. Check "
                f"the sign rule {SIGN_RULE}.{sign_rule_diagnosis(got, xi, xi_c, g)}\n"
                f"  first such point: ⟨ξ_c, ∇ℋ_c⟩ = {_dot(xi_c[i], g[i]):.4g}, "
                f"⟨ξ, ∇ℋ_c⟩ = {_dot(xi[i], g[i]):.4g}, ‖∇ℋ_c‖² = {_dot(g[i], g[i]):.4g}; "
                f"expected {expected[i]:+.0f}, got {got[i]:+.0f}"
            )
    return None


def _sign_broken(key: str) -> Callable[..., np.ndarray]:
    def wrong(xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
        return _wrong_rules(xi, xi_c, grad_Hc)[key]

    return wrong


_KEYS = list(_wrong_rules(np.ones(2), np.ones(2), np.ones(2)))


def _sign_np_sign(xi: np.ndarray, xi_c: np.ndarray, grad_Hc: np.ndarray) -> np.ndarray:
    a, b, c = _dot(xi_c, grad_Hc), _dot(xi, grad_Hc), _dot(grad_Hc, grad_Hc)
    return np.sign(a * (b + c))


q2 = Exercise(
    lesson="08",
    id="q2",
    reference=aga_sign,
    verify=_q2_verify,
    hints=[
        "Three inner products over the last axis: a = ⟨ξ_c, ∇ℋ_c⟩, b = ⟨ξ, ∇ℋ_c⟩ and "
        "c = ‖∇ℋ_c‖². The sign of λ is the sign of a·(b + c).",
        "`(x * y).sum(-1)` is an inner product over the last axis for any batch shape. Return "
        "`np.where(value >= 0, 1.0, -1.0)` so that a zero counts as +1.",
        "`a = (xi_c * grad_Hc).sum(-1)`; `b = (xi * grad_Hc).sum(-1)`; "
        "`c = (grad_Hc * grad_Hc).sum(-1)`; `return np.where(a * (b + c) >= 0, 1.0, -1.0)`",
    ],
    solution_text=(
        "```python\n"
        "def aga_sign(xi, xi_c, grad_Hc):\n"
        "    a = (xi_c * grad_Hc).sum(-1)       # <xi_c, grad H_c>\n"
        "    b = (xi * grad_Hc).sum(-1)         # <xi, grad H_c>\n"
        "    c = (grad_Hc * grad_Hc).sum(-1)    # |grad H_c|^2\n"
        "    return np.where(a * (b + c) >= 0, 1.0, -1.0)\n"
        "```\n"
        "b + c = ⟨ξ + ∇ℋ_c, ∇ℋ_c⟩: how much the adjustment v = ξ + ∇ℋ_c points along ∇ℋ_c."
    ),
    broken=[_sign_broken(k) for k in _KEYS[:6]] + [_sign_np_sign],
)


# ---- q3: the AgA direction ---------------------------------------------------------------------


def _q3_verify(fn: Callable[..., Any], rng: np.random.Generator) -> str | None:
    for note, (xi, xi_c, H_c) in _aga_cases(rng):
        for lam in (1.0, 0.5):
            expected = aga_direction(xi, xi_c, H_c, lam)
            got = fn(xi.copy(), xi_c.copy(), H_c.copy(), lam)
            if got is None:
                return "your function returned None — did you forget a `return`?"
            try:
                got = np.asarray(got, dtype=float)
            except (TypeError, ValueError):
                return f"expected an array of shape {expected.shape}, got {type(got).__name__}"
            if got.shape != expected.shape:
                return f"wrong shape on {note}: expected {expected.shape}, got {got.shape}"
            ok = np.isclose(got, expected, rtol=1e-6, atol=1e-8).all(axis=-1)
            if ok.all():
                continue
            g = hamiltonian_gradient(H_c, xi_c)
            v = xi + g
            zero_lam = np.isclose(got, xi_c, rtol=1e-6, atol=1e-8).all(axis=-1) & (_dot(v, v) > 0)
            exact_zero = _dot(xi_c, g) * (_dot(xi, g) + _dot(g, g)) == 0
            if zero_lam[~ok].all() and exact_zero[~ok].all():
                return (
                    f"On {note} (|λ| = {lam:g}): at {int((~ok).sum())} points your direction is "
                    f"ξ_c alone, i.e. λ = 0 there. {_NP_SIGN}."
                )
            if zero_lam[~ok].all():
                return (
                    f"On {note} (|λ| = {lam:g}): your direction is ξ_c alone at {int((~ok).sum())} "
                    "points — the adjustment λ(ξ + ∇ℋ_c) is missing."
                )
            flipped = xi_c - (lam * aga_sign(xi, xi_c, g))[..., None] * v
            fl = np.isclose(got, flipped, rtol=1e-6, atol=1e-8).all(axis=-1)
            i = int(np.flatnonzero(~ok)[0])
            if (ok | fl).all():
                # every point is right or has the opposite lambda: the sign rule is wrong
                vv = np.where(_dot(v, v) > 0, _dot(v, v), 1.0)
                student_sign = _sgn(_dot(got - xi_c, v) / vv)
                return (
                    f"On {note} (|λ| = {lam:g}): at {int((~ok).sum())} of {ok.size} points "
                    f"the direction matches with the opposite λ sign: check the sign rule "
                    f"{SIGN_RULE}.{sign_rule_diagnosis(student_sign, xi, xi_c, g)}"
                )
            vnorm = _dot(v[i], v[i])
            lam_seen = _dot(got[i] - xi_c[i], v[i]) / vnorm if vnorm > 0 else np.nan
            shape_hint = ""
            if np.isclose(got[i], xi_c[i] + lam_seen * v[i], rtol=1e-6, atol=1e-8).all():
                shape_hint = (
                    f" Your direction has the form ξ_c + λ(ξ + ∇ℋ_c) with λ = {lam_seen:.4g}, "
                    f"but |λ| should be {lam:g}: use abs(lam) times the sign."
                )
            else:
                shape_hint = (
                    " It is not of the form ξ_c + λ(ξ + ∇ℋ_c): check ∇ℋ_c = H_c ξ_c and which "
                    "gradient (ξ or ξ_c) goes where."
                )
            return (
                f"On {note} (|λ| = {lam:g}): the direction differs at {int((~ok).sum())} of "
                f"{ok.size} points.{shape_hint}\n  first such point: ξ = {_fmt(xi[i])}, "
                f"ξ_c = {_fmt(xi_c[i])}\n  expected {_fmt(expected[i])}\n  got      "
                f"{_fmt(got[i])}"
            )
    return None


def _aga_direction(xi: np.ndarray, xi_c: np.ndarray, H_c: np.ndarray, lam: float) -> np.ndarray:
    """The library's :func:`aga_direction` with the paper's sign."""
    return aga_direction(xi, xi_c, H_c, lam)


def _direction_with_sign(key: str) -> Callable[..., np.ndarray]:
    def wrong(xi: np.ndarray, xi_c: np.ndarray, H_c: np.ndarray, lam: float) -> np.ndarray:
        g = hamiltonian_gradient(H_c, xi_c)
        s = _wrong_rules(xi, xi_c, g)[key]
        return xi_c + (abs(lam) * s)[..., None] * (xi + g)

    return wrong


def _direction_np_sign(xi: np.ndarray, xi_c: np.ndarray, H_c: np.ndarray, lam: float) -> np.ndarray:
    g = hamiltonian_gradient(H_c, xi_c)
    return xi_c + (abs(lam) * _sign_np_sign(xi, xi_c, g))[..., None] * (xi + g)


q3 = Exercise(
    lesson="08",
    id="q3",
    reference=_aga_direction,
    verify=_q3_verify,
    hints=[
        "AgA moves along the collective gradient ξ_c plus λ times the adjustment "
        "v = ξ + ∇ℋ_c, with ∇ℋ_c = H_c ξ_c, and λ = |λ| times your sign from q2.",
        "Compute `grad_Hc = np.einsum('...km,...m->...k', H_c, xi_c)`, then the sign with "
        "`games.aga_sign(xi, xi_c, grad_Hc)` (shape (...)); add an axis before multiplying: "
        "`(abs(lam) * s)[..., None] * (xi + grad_Hc)`.",
        "`g = np.einsum('...km,...m->...k', H_c, xi_c)`; `s = games.aga_sign(xi, xi_c, g)`; "
        "`return xi_c + (abs(lam) * s)[..., None] * (xi + g)`",
    ],
    solution_text=(
        "```python\n"
        "def aga_direction(xi, xi_c, H_c, lam):\n"
        "    grad_Hc = np.einsum('...km,...m->...k', H_c, xi_c)\n"
        "    s = games.aga_sign(xi, xi_c, grad_Hc)\n"
        "    return xi_c + (abs(lam) * s)[..., None] * (xi + grad_Hc)\n"
        "```\n"
        "With lam = 0 this is Simul-Co (descend ℓ_c)."
    ),
    broken=[
        _direction_with_sign(_KEYS[0]),
        _direction_with_sign(_KEYS[1]),
        _direction_with_sign(_KEYS[4]),
        lambda xi, xi_c, H_c, lam: (
            xi
            + (abs(lam) * aga_sign(xi, xi_c, hamiltonian_gradient(H_c, xi_c)))[..., None]
            * (xi_c + hamiltonian_gradient(H_c, xi_c))
        ),
        lambda xi, xi_c, H_c, lam: (
            xi_c + (lam * aga_sign(xi, xi_c, hamiltonian_gradient(H_c, xi_c)))[..., None] * xi
        ),
        _direction_np_sign,
    ],
)
