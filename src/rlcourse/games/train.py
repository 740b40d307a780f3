"""Batched training: many initialisations descend a method's direction at once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlcourse._validate import check_int, check_positive
from rlcourse.games.base import Game, check_w
from rlcourse.games.methods import (
    Method,
    _real,
    aga,
    aga_exact_sign,
    aga_sign,
    exact_alignment_sign,
    get_method,
)

__all__ = ["Trajectory", "train"]


@dataclass(frozen=True)
class Trajectory:
    """A batch of runs of one method on one game.

    ``w``, ``actions``: ``(steps+1, batch, d)``; ``rewards``: ``(steps+1, batch, n)``;
    ``diverged``: ``(batch,)`` bool; ``diverged_at``: ``(batch,)`` the step whose update was
    non-finite or exploded (``-1``: never). A diverged run is frozen at its last good ``w``.
    With ``keep="final"`` only the start and the end are kept: ``w[0]`` is ``w0``, ``w[1]``
    the point after the last step (shape ``(2, batch, d)``), and ``n_steps`` says how many
    steps were run.
    """

    w: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray
    method: str
    lr: float
    params: dict[str, Any] = field(default_factory=dict)
    game: str = ""
    keep: str = "trajectory"
    n_steps: int | None = None

    @property
    def steps(self) -> int:
        """Number of update steps."""
        return self.w.shape[0] - 1 if self.n_steps is None else self.n_steps

    @property
    def social_welfare(self) -> np.ndarray:
        """``SW = sum_i r_i`` along the runs: ``(steps+1, batch)``."""
        return self.rewards.sum(axis=-1)

    @property
    def final_actions(self) -> np.ndarray:
        """Actions after the last step: ``(batch, d)``."""
        return self.actions[-1]

    @property
    def final_rewards(self) -> np.ndarray:
        """Rewards after the last step: ``(batch, n)``."""
        return self.rewards[-1]


def train(
    game: Game,
    method: str | Method,
    w0: np.ndarray,
    *,
    lr: float,
    steps: int,
    blowup: float = 1e6,
    project: Callable[[np.ndarray], np.ndarray] | None = None,
    keep: str = "trajectory",
    **params: Any,
) -> Trajectory:
    """Run ``w_{t+1} = w_t - lr * direction(game, w_t, **params)`` for every row of ``w0``.

    ``method``: a name in ``METHODS`` (``"aga"``, ``"sga"``, ...) or a callable
    ``(game, w, **params) -> (..., d)``. ``w0``: ``(batch, d)`` or ``(d,)`` (one run).
    A run whose next ``w`` is non-finite or has an entry above ``blowup`` in absolute value is
    flagged in ``diverged`` and frozen at its last good ``w`` (the batch never sees a NaN).
    ``project``: optional map ``(batch, d) -> (batch, d)`` applied after every step (projected
    gradient descent), e.g. ``lambda w: np.maximum(w, 0.0)`` to keep quantities ``q >= 0``.
    ``keep="final"`` stores only ``w0`` and the last point instead of every step.
    """
    name, fn = get_method(method)
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, low=0)
    blowup = check_positive("blowup", blowup)
    if keep not in ("trajectory", "final"):
        raise ValueError(f"keep: expected 'trajectory' or 'final', got {keep!r}")
    w = check_w(game, w0, "w0")
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2:
        raise ValueError(f"w0: expected shape (batch, {game.dim}) or ({game.dim},), got {w.shape}")
    try:
        inspect.signature(fn).bind(game, w, **params)
    except TypeError as exc:
        raise ValueError(
            f"params: method {name!r} does not accept {sorted(params)} ({exc})"
        ) from None
    if project is not None and not callable(project):
        raise ValueError(f"project: expected a callable (batch, d) -> (batch, d), got {project!r}")
    if np.abs(w).max() > blowup:
        raise ValueError(f"w0: expected entries below blowup={blowup:g} in absolute value")

    B, d = w.shape
    direction = _direction(game, name, fn, params)
    W = np.empty((steps + 1 if keep == "trajectory" else 2, B, d))
    W[0] = w
    diverged = np.zeros(B, dtype=bool)
    diverged_at = np.full(B, -1)
    with np.errstate(all="ignore"):
        for t in range(steps):
            w_new = w - lr * direction(w)
            if project is not None:
                w_new = np.asarray(project(w_new), dtype=float)
                if w_new.shape != (B, d):
                    raise ValueError(
                        f"project: expected it to return shape {(B, d)}, got {w_new.shape}"
                    )
            # one scalar test for the whole batch (NaN fails it too); rows only when it fails
            if diverged.any() or not np.abs(w_new).max() <= blowup:
                bad = ~np.isfinite(w_new).all(axis=-1) | (np.abs(w_new).max(axis=-1) > blowup)
                bad &= ~diverged
                diverged_at[bad] = t + 1
                diverged |= bad
                w_new = np.where(diverged[:, None], w, w_new)
            w = w_new
            if keep == "trajectory":
                W[t + 1] = w
    if keep == "final":
        W[1] = w
    return Trajectory(
        w=W,
        actions=game._actions(W),
        rewards=-game._losses(W),
        diverged=diverged,
        diverged_at=diverged_at,
        method=name,
        lr=lr,
        params=dict(params),
        game=game.name,
        keep=keep,
        n_steps=steps,
    )


def _direction(game: Game, name: str, fn: Method, params: dict[str, Any]):
    """``w -> direction`` for the loop: AgA straight from the game's ``(xi, xi_c, grad H_c)``
    (:meth:`Game._aga_terms`, one sigmoid, no per-player Hessians, no per-step validation);
    any other method through its function."""
    if fn is aga or fn is aga_exact_sign:
        lam = abs(_real("lam", params.get("lam", 1.0)))
        sign_of = exact_alignment_sign if fn is aga_exact_sign else aga_sign

        def step(w: np.ndarray) -> np.ndarray:
            xi, xi_c, grad_Hc = game._aga_terms(w)
            s = sign_of(xi, xi_c, grad_Hc)  # the same rule as methods.aga_direction
            return xi_c + (lam * s)[..., None] * (xi + grad_Hc)

        return step
    return lambda w: fn(game, w, **params)
