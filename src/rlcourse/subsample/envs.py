"""Environments of the course: demand response (the paper's experiment), queueing (ours),
a toy system and seeded random systems (for tests and exercises)."""

from __future__ import annotations

import numpy as np

from rlcourse._validate import check_int, check_open_interval, check_positive, make_rng
from rlcourse.subsample.model import GlobalLocalMDP

__all__ = ["VARIANT_PRICE_WEIGHT", "demand_response", "queueing", "random_mdp", "toy"]

VARIANT_PRICE_WEIGHT = 0.05
"""``price_weight`` of the course's demand-response variant (the course's choice). With the
specification's weight 1 a crowd-blind policy is certified optimal for every n; that certificate
holds for weights down to about 0.158. At 0.05, about a third of that threshold, no crowd-blind
policy is optimal (the exact optimum at n = 2 has no single optimal action at four of the five
supply levels) and the crowd changes the optimal action at about 21 % of the (s_g, c) pairs."""


def _shift_matrix(size: int, probs: dict[int, np.ndarray]) -> np.ndarray:
    """``M[..., x, x']`` for moves ``x' = clip(x + d, 0, size-1)`` with probability
    ``probs[d][...]`` (broadcast over leading axes)."""
    x = np.arange(size)
    lead = np.broadcast_shapes(*(np.shape(p) for p in probs.values()))
    M = np.zeros((*lead, size, size))
    for d, p in probs.items():  # a handful of moves
        onehot = np.eye(size)[np.clip(x + d, 0, size - 1)]  # (x, x')
        M += np.asarray(p)[..., None, None] * onehot
    return M


def demand_response(gamma: float = 0.9, price_weight: float = 1.0) -> GlobalLocalMDP:
    """The paper's demand-response system (n agents, L = 25).

    ``S_g = {1..5}`` (index ``s_g - 1``), ``A_g = {-1, 0, +1}`` (index ``a_g + 1``),
    ``s_g' = clip(s_g + a_g, 1, 5)``. Local state ``(u, v) ∈ {1..5}^2`` (index
    ``5 (u-1) + (v-1)``): ``v' ~ U{1..5}``; ``u' = v`` if ``v <= s_g`` else
    ``u' = clip(v + (s_g - u) B, 1, 5)`` with ``B ~ Bernoulli(1/2)``.
    ``r_g = w · 15 / s_g - 1{a_g = -1}``, ``r_l((u, v), s_g) = u - 0.5 * 1{u > s_g}``.

    ``price_weight`` is ``w``: ``w = 1`` (default) is the specification, under which lowering
    ``s_g`` always wins and the optimal policy ignores the local histogram (see
    :func:`rlcourse.subsample.planning.certify_global_policy`). A smaller ``w`` is the
    course's own variant, in which the global agent must weigh its price against the local
    agents' consumption, so the policy depends on ``c``.
    """
    gamma = check_open_interval("gamma", gamma, 0.0, 1.0)
    price_weight = check_positive("price_weight", price_weight, allow_zero=True)
    s = np.arange(1, 6)  # s_g values
    a = np.array([-1, 0, 1])
    P_g = np.eye(5)[np.clip(s[:, None] + a[None, :], 1, 5) - 1]  # (s_g, a_g, s_g')
    u = np.repeat(s, 5)[:, None]  # (x, 1): u of local state x
    v = np.tile(s, 5)[:, None]  # (x, 1): v of local state x
    sg = s[None, :]  # (1, s_g)
    u_b0 = np.broadcast_to(v, (25, 5))  # u' when v <= s_g or B = 0
    u_b1 = np.where(v <= sg, v, np.clip(v + (sg - u), 1, 5))  # u' when B = 1
    P_u = 0.5 * np.eye(5)[u_b0 - 1] + 0.5 * np.eye(5)[u_b1 - 1]  # (x, s_g, u')
    P_l = (P_u[..., :, None] * np.full(5, 0.2)).reshape(25, 5, 25)  # x' = 5 (u'-1) + (v'-1)
    r_g = price_weight * 15.0 / s[:, None] - (a[None, :] == -1)
    r_l = u - 0.5 * (u > sg)
    return GlobalLocalMDP(P_g, P_l, r_g.astype(float), r_l.astype(float), gamma)


def queueing(
    G: int = 4,
    B: int = 2,
    p: float = 0.4,
    mu: float = 0.9,
    c_cap: float = 0.2,
    c_switch: float = 0.05,
    gamma: float = 0.9,
) -> GlobalLocalMDP:
    """Queueing (the course's own): n queues of length ``x ∈ {0..B}`` (L = B + 1) served at
    capacity level ``s_g ∈ {0..G-1}``; ``a_g ∈ {-1, 0, +1}`` (index ``a_g + 1``) moves it,
    ``s_g' = clip(s_g + a_g, 0, G-1)``. Each queue gets an arrival w.p. ``p`` and a service
    w.p. ``mu s_g / (G-1)``, ``x' = clip(x + arrival - service, 0, B)``.
    ``r_g = -c_cap s_g - c_switch |a_g|``, ``r_l = -x / B``.
    """
    G = check_int("G", G, low=2)
    B = check_int("B", B, low=1)
    p = check_open_interval("p", p, 0.0, 1.0)
    mu = check_open_interval("mu", mu, 0.0, 1.0 + 1e-12)
    c_cap = check_positive("c_cap", c_cap, allow_zero=True)
    c_switch = check_positive("c_switch", c_switch, allow_zero=True)
    gamma = check_open_interval("gamma", gamma, 0.0, 1.0)
    s = np.arange(G)
    a = np.array([-1, 0, 1])
    P_g = np.eye(G)[np.clip(s[:, None] + a[None, :], 0, G - 1)]
    q = mu * s / (G - 1)  # service probability per level
    up, down = p * (1 - q), (1 - p) * q
    M = _shift_matrix(B + 1, {+1: up, -1: down, 0: 1 - up - down})  # (s_g, x, x')
    P_l = M.transpose(1, 0, 2)
    r_g = -c_cap * s[:, None] - c_switch * np.abs(a)[None, :]
    r_l = np.broadcast_to(-np.arange(B + 1)[:, None] / B, (B + 1, G))
    return GlobalLocalMDP(P_g, P_l, r_g.astype(float), r_l.astype(float), gamma)


def toy(L: int = 2, gamma: float = 0.9) -> GlobalLocalMDP:
    """A two-level toy for the first lessons: ``S_g = {low, high}`` service, ``A_g = {stay,
    switch}`` (switching succeeds w.p. 0.9); local backlog ``x ∈ {0..L-1}`` drifts down under
    high service (0.6 down, 0.1 up) and up under low service (0.5 up, 0.2 down).
    ``r_g = -0.5 * 1{high} - 0.1 * 1{switch}``, ``r_l = -x / (L-1)``."""
    L = check_int("L", L, low=2, high=6)
    gamma = check_open_interval("gamma", gamma, 0.0, 1.0)
    P_g = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.1, 0.9], [0.9, 0.1]]])
    M = _shift_matrix(L, {+1: np.array([0.5, 0.1]), -1: np.array([0.2, 0.6]), 0: 0.3})
    P_l = M.transpose(1, 0, 2)
    r_g = np.array([[0.0, -0.1], [-0.5, -0.6]])
    r_l = np.broadcast_to(-np.arange(L)[:, None] / (L - 1), (L, 2))
    return GlobalLocalMDP(P_g, P_l, r_g, r_l.astype(float), gamma)


def random_mdp(
    n_global: int = 2,
    n_actions: int = 2,
    L: int = 2,
    *,
    gamma: float = 0.9,
    rng: np.random.Generator | int = 0,
) -> GlobalLocalMDP:
    """A seeded random system: Dirichlet(1) transition rows, rewards uniform on [0, 1)."""
    n_global = check_int("n_global", n_global, low=1)
    n_actions = check_int("n_actions", n_actions, low=1)
    L = check_int("L", L, low=1)
    rng = make_rng(rng)
    P_g = rng.dirichlet(np.ones(n_global), size=(n_global, n_actions))
    P_l = rng.dirichlet(np.ones(L), size=(L, n_global))
    r_g = rng.random((n_global, n_actions))
    r_l = rng.random((L, n_global))
    return GlobalLocalMDP(P_g, P_l, r_g, r_l, gamma)
