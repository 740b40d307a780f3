"""Figures for the games half of the course."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rlcourse._validate import as_array, check_int

__all__: list[str] = ["final_actions_scatter", "vector_field", "welfare_curves"]


def _figure(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _path(traj: Any, space: str) -> np.ndarray:
    """``(steps+1, batch, 2)`` points of a Trajectory (actions or w) or of an array."""
    if hasattr(traj, "w"):
        return traj.actions if space == "action" else traj.w
    return as_array("trajectories", traj, ndim=3)


def vector_field(
    game: Any,
    method: Any = "simul_ind",
    *,
    space: str = "action",
    lim: float = 3.0,
    grid: int = 17,
    trajectories: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    **params: Any,
) -> Figure:
    """The field ``-direction(game, w)`` of a method (default Simul-Ind: ``-xi``) on a 2-D game.

    ``space="action"`` draws it over actions ``a = actions(w)`` in ``(0, 1)^2`` (chain rule
    ``da/dt = -sigma'(w) direction``; only for games played through a sigmoid),
    ``space="parameter"`` over ``w`` in ``[-lim, lim]^2``. Arrows are normalised, colour is
    the speed ``|dw/dt|`` (or ``|da/dt|``). ``trajectories``: a ``Trajectory`` or an array
    ``(steps+1, batch, 2)`` in the same space, drawn as lines from circles to crosses.
    """
    from rlcourse.games.base import SigmoidGame, check_w
    from rlcourse.games.methods import get_method

    name, fn = get_method(method)
    if game.dim != 2:
        raise ValueError(f"game: expected a game with d = 2 parameters, got d = {game.dim}")
    if space not in ("action", "parameter"):
        raise ValueError(f"space: expected 'action' or 'parameter', got {space!r}")
    if space == "action" and not isinstance(game, SigmoidGame):
        raise ValueError(f"space: {game.name} is played in w directly; use space='parameter'")
    grid = check_int("grid", grid, low=2)
    fig, ax = _figure(ax)
    if space == "action":
        ticks = np.linspace(0.02, 0.98, grid)
    else:
        ticks = np.linspace(-lim, lim, grid)
    X, Y = np.meshgrid(ticks, ticks)
    P = np.stack([X, Y], axis=-1)
    w = game._params_from_actions(P) if space == "action" else P
    V = -fn(game, check_w(game, w), **params)
    if space == "action":
        V = V * (P * (1.0 - P))  # da/dt = sigma'(w) dw/dt
    speed = np.linalg.norm(V, axis=-1)
    U = V / np.where(speed > 0, speed, 1.0)[..., None]
    q = ax.quiver(X, Y, U[..., 0], U[..., 1], speed, cmap="viridis", pivot="mid", scale=grid * 1.3)
    fig.colorbar(q, ax=ax, label="speed (per unit step size)")
    if trajectories is not None:
        pts = _path(trajectories, space)
        for b in range(pts.shape[1]):
            ax.plot(pts[:, b, 0], pts[:, b, 1], color="tab:red", lw=0.8, alpha=0.7)
        ax.plot(pts[0, :, 0], pts[0, :, 1], "o", color="tab:red", ms=3, mfc="none")
        ax.plot(pts[-1, :, 0], pts[-1, :, 1], "x", color="tab:red", ms=4)
    label = "action a" if space == "action" else "parameter w"
    ax.set_xlabel(f"player 1 {label}")
    ax.set_ylabel(f"player 2 {label}")
    if space == "action":
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    ax.set_title(title or f"{game.name}: flow of {name}")
    return fig


def final_actions_scatter(
    trajectories: Mapping[str, Any],
    *,
    nash: tuple[float, float] = (0.0, 0.0),
    optimum: tuple[float, float] = (1.0, 1.0),
    title: str | None = None,
) -> Figure:
    """One panel per method: the final actions ``(a_1, a_2)`` of every run (two players).

    ``trajectories``: label -> ``Trajectory`` (or ``(batch, 2)`` array of final actions).
    The Nash equilibrium and the social optimum are marked.
    """
    if not trajectories:
        raise ValueError("trajectories: expected at least one method, got none")
    k = len(trajectories)
    cols = min(k, 4)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), squeeze=False)
    for ax, (label, tr) in zip(axes.flat, trajectories.items(), strict=False):
        a = tr.final_actions if hasattr(tr, "final_actions") else as_array(label, tr, ndim=2)
        ax.scatter(a[:, 0], a[:, 1], s=14, alpha=0.6, color="tab:blue", label="final actions")
        ax.plot(*nash, "s", color="tab:red", ms=7, mfc="none", label="Nash")
        ax.plot(*optimum, "*", color="tab:green", ms=11, label="social optimum")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(r"player 1 action $a_1$")
        ax.set_ylabel(r"player 2 action $a_2$")
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="center")
    fig.suptitle(title or "final actions of every run")
    fig.tight_layout()
    return fig


def welfare_curves(
    trajectories: Mapping[str, Any],
    *,
    nash: float | None = None,
    optimum: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Mean social welfare ``sum_i r_i`` per step for each method, with a 95% CI band."""
    from rlcourse.games.metrics import mean_ci

    if not trajectories:
        raise ValueError("trajectories: expected at least one method, got none")
    fig, ax = _figure(ax, (6.5, 4.0))
    for label, tr in trajectories.items():
        sw = tr.social_welfare if hasattr(tr, "social_welfare") else as_array(label, tr, ndim=2)
        ci = mean_ci(sw, axis=1)
        t = np.arange(sw.shape[0])
        (line,) = ax.plot(t, ci.mean, label=label)
        ax.fill_between(t, ci.low, ci.high, color=line.get_color(), alpha=0.2)
    if nash is not None:
        ax.axhline(nash, color="grey", ls=":", lw=1)
        ax.text(0, nash, " Nash", va="bottom", fontsize=8, color="grey")
    if optimum is not None:
        ax.axhline(optimum, color="grey", ls="--", lw=1)
        ax.text(0, optimum, " optimum", va="top", fontsize=8, color="grey")
    ax.set_xlabel("step t")
    ax.set_ylabel(r"social welfare $\sum_i r_i$")
    ax.legend(fontsize=8)
    ax.set_title(title or "social welfare during training")
    return fig
