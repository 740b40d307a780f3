"""Checks for lesson 05 — reproducing the paper: the log-log slope of a measured curve, and the
two environments (demand response from the paper, queueing of the course) built from their
specifications."""

from __future__ import annotations

import numpy as np

from rlcourse.exercises.framework import Case, Exercise, allclose
from rlcourse.subsample import envs
from rlcourse.subsample.experiments import fit_slope as _fit_slope

__all__ = ["q1", "q2", "q3"]


# ---- q1: slope on log-log axes ---------------------------------------------------------------


def fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x`` over the entries with ``x > 0`` and
    ``y > 0``; NaN when fewer than two remain (the library's
    :func:`~rlcourse.subsample.fit_slope`)."""
    return _fit_slope(x, y)


def _q1_cases(rng: np.random.Generator) -> list[Case]:
    k = np.array([1, 2, 4, 8, 16])
    return [
        Case((k, 3.0 / np.sqrt(k)), note="an exact 1/√k curve: slope −0.5"),
        Case((k, 0.01 * k**2.0), note="an exact k² curve: slope 2"),
        Case(
            (k, 2.0 / np.sqrt(k) * np.exp(rng.normal(0, 0.2, 5))),
            note="a noisy 1/√k curve (least squares in log-log)",
        ),
        Case(
            (np.arange(1.0, 8.0), np.array([0.5, 0.3, -0.01, 0.2, 0.0, 0.1, 0.08])),
            note="a measured gap with entries ≤ 0 (noise): they are left out",
        ),
        Case((np.array([1.0, 2.0, 3.0]), np.array([0.2, -0.1, 0.0])), note="one positive entry"),
    ]


def _q1_linear_x(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = y > 0
    return float(np.polyfit(x[keep], np.log(y[keep]), 1)[0]) if keep.sum() >= 2 else np.nan


def _q1_no_filter(x, y):
    with np.errstate(all="ignore"):
        return float(np.polyfit(np.log(x), np.log(np.abs(y) + 1e-300), 1)[0])


def _q1_ratio_of_ends(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = y > 0
    if keep.sum() < 2:
        return np.nan
    xs, ys = x[keep], y[keep]
    return float(np.log(ys[-1] / ys[0]) / np.log(xs[-1] / xs[0]))


def _q1_compare(got, expected):
    reason = allclose(rtol=1e-6, atol=1e-9)(got, expected)
    if reason is None or got is None:
        return reason
    if "NaN" in reason:
        return f"{reason}: the log of a y <= 0 is NaN — keep only the entries with x > 0, y > 0"
    return (
        f"{reason}. Fit log y against log x (both logs) by least squares over the kept entries; "
        "return nan when fewer than two remain"
    )


q1 = Exercise(
    lesson="05",
    id="q1",
    reference=fit_slope,
    cases=_q1_cases,
    compare=_q1_compare,
    hints=[
        "A power law y = C x^s is a straight line on log-log axes: log y = log C + s log x. Fit "
        "that line by least squares; its slope is s. A logarithm needs positive numbers, so "
        "drop the entries with y <= 0 (noise around a zero gap) first.",
        "`keep = (x > 0) & (y > 0)`; if fewer than 2 entries remain return `float('nan')`; "
        "otherwise `np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)` returns [slope, intercept].",
        "```\nx, y = np.asarray(x, float), np.asarray(y, float)\nkeep = (x > 0) & (y > 0)\n"
        "if keep.sum() < 2:\n    return float('nan')\n"
        "return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])\n```",
    ],
    solution_text=(
        "```python\n"
        "def fit_slope(x, y):\n"
        "    x, y = np.asarray(x, float), np.asarray(y, float)\n"
        "    keep = (x > 0) & (y > 0)\n"
        "    if keep.sum() < 2:\n"
        "        return float('nan')\n"
        "    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])\n"
        "```\n"
        "A slope of −0.5 is the 1/√k rate; a learning time with slope 3 grows like k³. Dropping "
        "non-positive gaps biases the fit (they are the small ones): read it as a summary, "
        "not a test."
    ),
    broken=[_q1_linear_x, _q1_no_filter, _q1_ratio_of_ends],
)


# ---- q2: the demand-response local kernel (a value) ------------------------------------------


def _q2_reference() -> np.ndarray:
    return np.asarray(envs.demand_response().P_l)


def _dr_variant(*, always_v: bool = False, swap: bool = False, b_one: bool = False):
    s = np.arange(1, 6)
    u = np.repeat(s, 5)[:, None]
    v = np.tile(s, 5)[:, None]
    sg = s[None, :]
    u_b1 = np.where(v <= sg, v, np.clip(v + (sg - u), 1, 5))
    if always_v:
        u_b1 = np.broadcast_to(v, (25, 5))
    u_b0 = np.broadcast_to(v, (25, 5))
    p0 = 0.0 if b_one else 0.5
    P_u = p0 * np.eye(5)[u_b0 - 1] + (1 - p0) * np.eye(5)[u_b1 - 1]  # (x, s_g, u')
    P = (P_u[..., :, None] * np.full(5, 0.2)).reshape(25, 5, 25)
    if swap:  # index 5 (v-1) + (u-1) for the next state
        P = P.reshape(25, 5, 5, 5).transpose(0, 1, 3, 2).reshape(25, 5, 25)
    return P


def _q2_compare(got, expected):
    reason = allclose(rtol=0, atol=1e-12)(got, expected)
    if reason is None or reason.startswith(("wrong shape", "expected numbers", "your function")):
        return reason
    g = np.asarray(got, dtype=float)
    sums = g.sum(axis=2)
    if not np.allclose(sums, 1.0):
        return f"{reason}; some rows P_l_dr[x, s_g, :] do not sum to 1 (min {sums.min():.3g})"
    return (
        f"{reason}. Index x = 5 (u−1) + (v−1) for the current AND the next state, s_g level "
        "ℓ ∈ {1..5} at index ℓ−1; v' is uniform on 1..5; u' mixes the two values of B with "
        "weight 1/2 each"
    )


q2 = Exercise(
    lesson="05",
    id="q2",
    kind="value",
    reference=_q2_reference,
    compare=_q2_compare,
    hints=[
        "Index the local state (u, v) as x = 5 (u−1) + (v−1). The next state factorises: "
        "v' ~ Uniform{1..5} independently, and u' is v or clip(v + (s_g − u) B, 1, 5), with "
        "B ~ Bernoulli(1/2) and the CURRENT v, u, s_g. "
        "So P_l[x, s_g, x'] = P(u' | u, v, s_g) · 1/5.",
        "Build P_u[x, s_g, u'] (shape (25, 5, 5)): with u, v as (25, 1) columns and s_g as a "
        "(1, 5) row, `u_b1 = np.where(v <= sg, v, np.clip(v + (sg - u), 1, 5))`; B = 0 gives "
        "u' = v. One-hot rows: `np.eye(5)[u_b1 - 1]`.",
        "`P_u = 0.5 * np.eye(5)[v_b0 - 1] + 0.5 * np.eye(5)[u_b1 - 1]` with "
        "`v_b0 = np.broadcast_to(v, (25, 5))`; then "
        "`P_l_dr = (P_u[..., :, None] * np.full(5, 0.2)).reshape(25, 5, 25)`.",
    ],
    solution_text=(
        "```python\n"
        "s = np.arange(1, 6)\n"
        "u, v = np.repeat(s, 5)[:, None], np.tile(s, 5)[:, None]   # (25, 1) each\n"
        "sg = s[None, :]                                            # (1, 5)\n"
        "u_b0 = np.broadcast_to(v, (25, 5))                         # B = 0: u' = v\n"
        "u_b1 = np.where(v <= sg, v, np.clip(v + (sg - u), 1, 5))   # B = 1\n"
        "P_u = 0.5 * np.eye(5)[u_b0 - 1] + 0.5 * np.eye(5)[u_b1 - 1]  # (x, s_g, u')\n"
        "P_l_dr = (P_u[..., :, None] * np.full(5, 0.2)).reshape(25, 5, 25)\n"
        "```\n"
        "When v <= s_g both branches give u' = v: demand within the cap is met."
    ),
    broken=[
        _dr_variant(always_v=True),
        _dr_variant(swap=True),
        _dr_variant(b_one=True),
    ],
)


# ---- q3: the queueing local kernel -----------------------------------------------------------


def queueing_P_l(G: int, B: int, p: float, mu: float) -> np.ndarray:
    """``P_l[x, s_g, x']`` of the course's queueing system: arrival w.p. ``p``, service w.p.
    ``mu s_g / (G-1)``, independent; ``x' = clip(x + arrival − service, 0, B)``
    (``envs.queueing(G, B, p, mu).P_l``)."""
    return np.asarray(envs.queueing(G=G, B=B, p=p, mu=mu).P_l)


def _q3_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case((2, 1, 0.4, 0.9), note="G = 2 levels, queues of length 0..1"),
        Case((4, 2, 0.4, 0.9), note="the lesson's default: G = 4, B = 2"),
        Case((3, 4, 0.7, 0.5), note="G = 3, B = 4, busy queues"),
        Case((5, 3, 0.2, 1.0), note="G = 5, B = 3, full service at the top level"),
    ]


def _q3_exclusive(G, B, p, mu):
    q = mu * np.arange(G) / (G - 1)
    x = np.arange(B + 1)
    up = np.eye(B + 1)[np.clip(x + 1, 0, B)]
    down = np.eye(B + 1)[np.clip(x - 1, 0, B)]
    stay = np.eye(B + 1)
    P = (
        p * up[:, None, :]
        + q[None, :, None] * down[:, None, :]
        + (1 - p - q)[None, :, None] * stay[:, None, :]
    )
    return P  # arrival and service treated as exclusive: rows may not even be non-negative


def _q3_service_over_G(G, B, p, mu):
    return np.asarray(envs.queueing(G=G, B=B, p=p, mu=mu * (G - 1) / G).P_l)


def _q3_axes_swapped(G, B, p, mu):
    P = np.asarray(envs.queueing(G=G, B=B, p=p, mu=mu).P_l)
    return P.transpose(0, 2, 1)


def _q3_compare(got, expected):
    reason = allclose()(got, expected)
    if reason is None or reason.startswith(("wrong shape", "your function")) or got is None:
        return reason
    return (
        f"{reason}. Arrival and service are independent: up w.p. p(1−q), down w.p. (1−p)q, "
        "otherwise stay, with q = mu·s_g/(G−1); the axes are [x, s_g, x']"
    )


q3 = Exercise(
    lesson="05",
    id="q3",
    reference=queueing_P_l,
    cases=_q3_cases,
    compare=_q3_compare,
    hints=[
        "Arrival (prob. p) and service (prob. q = mu·s_g/(G−1)) are independent, so per step the "
        "queue goes up w.p. p(1−q), down w.p. (1−p)q, and stays otherwise (both or neither). "
        "Moves past 0 or B are clipped: the probability stays on the boundary state.",
        "Build three one-hot matrices over x → x': up `np.eye(B+1)[np.clip(x+1, 0, B)]`, down "
        "`np.eye(B+1)[np.clip(x-1, 0, B)]`, stay `np.eye(B+1)`; weight each by its probability, "
        "which depends on s_g through q.",
        "`q = mu * np.arange(G) / (G - 1)`; `up_p, down_p = p * (1 - q), (1 - p) * q`; then "
        "`P_l = up[:, None, :] * up_p[None, :, None] + down[:, None, :] * down_p[None, :, None] "
        "+ stay[:, None, :] * (1 - up_p - down_p)[None, :, None]` (shape (B+1, G, B+1)).",
    ],
    solution_text=(
        "```python\n"
        "def queueing_P_l(G, B, p, mu):\n"
        "    x = np.arange(B + 1)\n"
        "    q = mu * np.arange(G) / (G - 1)                  # service prob. per level\n"
        "    up_p, down_p = p * (1 - q), (1 - p) * q          # (G,)\n"
        "    up = np.eye(B + 1)[np.clip(x + 1, 0, B)]         # (x, x')\n"
        "    down = np.eye(B + 1)[np.clip(x - 1, 0, B)]\n"
        "    stay = np.eye(B + 1)\n"
        "    return (up[:, None, :] * up_p[None, :, None]\n"
        "            + down[:, None, :] * down_p[None, :, None]\n"
        "            + stay[:, None, :] * (1 - up_p - down_p)[None, :, None])\n"
        "```"
    ),
    broken=[_q3_exclusive, _q3_service_over_G, _q3_axes_swapped],
)
