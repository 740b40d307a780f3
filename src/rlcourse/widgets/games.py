"""Widgets of the games lessons (AgA, lessons 06–10)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from rlcourse.games import (
    Game,
    SigmoidGame,
    cournot,
    equality,
    matching_pennies,
    mean_ci,
    prisoners_dilemma,
    public_goods,
    stag_hunt,
    steps_to_fraction,
    tandem,
    train,
)
from rlcourse.plots.games import vector_field
from rlcourse.widgets.base import App, show_figure

__all__ = [
    "EXPLORER_GAMES",
    "EXPLORER_METHODS",
    "flow_explorer",
    "method_params",
    "public_goods_explorer",
]

#: Games of the explorer: label -> factory.
EXPLORER_GAMES: dict[str, Callable[[], Game]] = {
    "public goods": public_goods,
    "prisoner's dilemma": prisoners_dilemma,
    "stag hunt": stag_hunt,
    "bilinear": matching_pennies,
    "tandem": tandem,
    "Cournot": cournot,
}

#: Methods of the explorer: name -> the keyword its strength slider sets (None: no parameter).
EXPLORER_METHODS: dict[str, str | None] = {
    "simul_ind": None,
    "simul_co": None,
    "consensus": "gamma",
    "sga": "lam",
    "lola": "alpha",
    "aga": "lam",
    "aga_exact_sign": "lam",
}


def method_params(method: str, strength: float) -> dict[str, float]:
    """The keyword arguments of ``method`` for a strength ``|λ|`` (or ``γ``, ``α``)."""
    if method not in EXPLORER_METHODS:
        raise ValueError(f"method: expected one of {sorted(EXPLORER_METHODS)}, got {method!r}")
    key = EXPLORER_METHODS[method]
    return {} if key is None else {key: float(strength)}


def _landscape(ax: Any, game: Game, i: int, space: str, lim: float, pts: np.ndarray) -> None:
    """Contours of player ``i``'s reward over the plotted square, and the path ``pts``."""
    if space == "action":
        ticks = np.linspace(0.01, 0.99, 60)
    else:
        ticks = np.linspace(-lim, lim, 60)
    X, Y = np.meshgrid(ticks, ticks)
    P = np.stack([X, Y], axis=-1)
    w = game._params_from_actions(P) if space == "action" else P
    R = game.rewards(w)[..., i]
    cs = ax.contourf(X, Y, R, levels=15, cmap="RdYlGn")
    ax.figure.colorbar(cs, ax=ax, label=f"reward r{i + 1}")
    ax.plot(pts[:, 0], pts[:, 1], color="black", lw=1.2)
    ax.plot(pts[0, 0], pts[0, 1], "o", color="black", mfc="none", ms=6)
    ax.plot(pts[-1, 0], pts[-1, 1], "x", color="black", ms=7)
    label = "action a" if space == "action" else "parameter w"
    ax.set(xlabel=f"player 1 {label}", ylabel=f"player 2 {label}")
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylim(ticks[0], ticks[-1])
    ax.set_title(f"player {i + 1}'s reward r{i + 1}", fontsize=10)


def _method_controls(
    method: str, strength: float, lr: float, *, strength_max: float, lr_exp: tuple[float, float]
) -> dict[str, W.Widget]:
    """The ``method``, ``strength`` (|λ|, γ or α) and ``lr`` controls both explorers share;
    the step size slides on a log scale between ``10**lr_exp[0]`` and ``10**lr_exp[1]``."""
    style = {"description_width": "initial"}
    return {
        "method": W.Dropdown(options=list(EXPLORER_METHODS), value=method, description="method"),
        "strength": W.FloatSlider(
            value=strength,
            min=0.0,
            max=strength_max,
            step=strength_max / 200,
            description="strength (|λ| SGA/AgA, γ CO, α LOLA)",
            style=style,
            continuous_update=False,
        ),
        "lr": W.FloatLogSlider(
            value=lr,
            base=10,
            min=lr_exp[0],
            max=lr_exp[1],
            step=0.05,
            description="step size",
            style=style,
            continuous_update=False,
        ),
    }


def flow_explorer(
    game: str = "bilinear",
    method: str = "simul_ind",
    strength: float = 1.0,
    lr: float = 0.1,
    start: tuple[float, float] = (1.0, 1.0),
    steps: int = 100,
    lim: float = 4.0,
) -> App:
    r"""Pick a two-player game and a method; watch its flow field, one trajectory on it, and
    the trajectory on both players' reward landscapes.

    Controls: ``game`` (a name of :data:`EXPLORER_GAMES`), ``method`` (a name of
    :data:`EXPLORER_METHODS`), ``strength`` (``|λ|`` for SGA/AgA, ``γ`` for CO, ``α`` for LOLA),
    ``lr`` (step size α), ``x0``/``y0`` (starting parameters ``w_0``), ``steps``.
    Sigmoid games are drawn over actions ``a = σ(w)``, the others over ``w``.

    ``state`` holds ``game`` (the Game), ``method``, ``params``, ``lr``, ``w0``, ``steps``,
    ``trajectory`` (a :class:`~rlcourse.games.Trajectory` of one run), ``final_w``,
    ``final_actions``, ``final_rewards``, ``social_welfare`` (final ``Σ r_i``), ``diverged``
    and ``diverged_at``, and ``figure``.
    """
    if game not in EXPLORER_GAMES:
        raise ValueError(f"game: expected one of {sorted(EXPLORER_GAMES)}, got {game!r}")
    method_params(method, strength)  # validates the method name
    x0, y0 = (float(v) for v in start)
    controls: dict[str, W.Widget] = {
        "game": W.Dropdown(options=list(EXPLORER_GAMES), value=game, description="game"),
        **_method_controls(method, strength, lr, strength_max=10.0, lr_exp=(-3.0, 0.5)),
        "x0": W.FloatSlider(
            value=x0, min=-lim, max=lim, step=0.1, description="w₁ start", continuous_update=False
        ),
        "y0": W.FloatSlider(
            value=y0, min=-lim, max=lim, step=0.1, description="w₂ start", continuous_update=False
        ),
        "steps": W.IntSlider(
            value=steps, min=1, max=1000, description="steps", continuous_update=False
        ),
    }

    def update(app: App) -> None:
        c = app.controls
        g = EXPLORER_GAMES[c["game"].value]()
        name = c["method"].value
        params = method_params(name, c["strength"].value)
        rate = float(c["lr"].value)
        w0 = np.array([c["x0"].value, c["y0"].value], dtype=float)
        n_steps = int(c["steps"].value)
        traj = train(g, name, w0, lr=rate, steps=n_steps, **params)
        rewards = traj.final_rewards[0]
        diverged = bool(traj.diverged[0])
        app.state.update(
            game=g,
            method=name,
            params=params,
            lr=rate,
            w0=w0,
            steps=n_steps,
            trajectory=traj,
            final_w=traj.w[-1, 0],
            final_actions=traj.final_actions[0],
            final_rewards=rewards,
            social_welfare=float(rewards.sum()),
            diverged=diverged,
            diverged_at=int(traj.diverged_at[0]),
        )
        space = "action" if isinstance(g, SigmoidGame) else "parameter"
        pts = traj.actions[:, 0] if space == "action" else traj.w[:, 0]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        ptxt = ", ".join(f"{k}={v:g}" for k, v in params.items())
        far = float(np.abs(traj.w[-1, 0]).max())
        if diverged:
            finding = f"diverged at step {traj.diverged_at[0]}"
        elif far > 10 * lim:
            finding = f"runs away, |w| = {far:.2g}"
        else:
            a = traj.final_actions[0]
            finding = f"ends at ({a[0]:.2f}, {a[1]:.2f}), SW = {rewards.sum():.2f}"
        vector_field(
            g,
            name,
            space=space,
            lim=lim,
            trajectories=pts[:, None, :],
            ax=axes[0],
            title=f"{name}({ptxt}), lr={rate:.3g}: {finding}",
            **params,
        )
        axes[0].title.set_fontsize(10)
        if space == "parameter":
            axes[0].set_xlim(-lim, lim)
            axes[0].set_ylim(-lim, lim)
        for i in (0, 1):
            _landscape(axes[i + 1], g, i, space, lim, pts)
        fig.suptitle(f"{g.name}: flow of −direction (left) and the path on each reward")
        fig.tight_layout()
        show_figure(app, fig)

    return App(
        controls,
        update,
        title="Flow explorer: a method's field, one run, and both reward landscapes",
        layout_rows=[["game", "method", "strength"], ["lr", "steps"], ["x0", "y0"]],
    )


def public_goods_explorer(
    method: str = "aga",
    strength: float = 1.0,
    lr: float = 1.0,
    runs: int = 50,
    steps: int = 100,
    seed: int = 0,
) -> App:
    r"""The paper's two-player public goods experiment for one method: ``runs`` seeded starts
    ``w ~ U(-1, 1)^2``, final actions and the social welfare curve.

    Controls: ``method``, ``strength`` (``|λ|``, ``γ`` or ``α``), ``lr``, ``runs``, ``steps``,
    ``seed``. ``state`` holds ``trajectory``, ``final_actions`` ``(runs, 2)``, ``sw`` and
    ``equality`` (:class:`~rlcourse.games.MeanCI` of the final ``SW`` and ``E = 1 - Gini``),
    ``steps_to_90`` (per run, ``-1`` if never) and ``reached`` (fraction of runs reaching 90%
    of the way from the Nash to the optimal welfare), and ``figure``.
    """
    method_params(method, strength)
    game = public_goods()
    controls: dict[str, W.Widget] = {
        **_method_controls(method, strength, lr, strength_max=20.0, lr_exp=(-2.0, 1.0)),
        "runs": W.IntSlider(
            value=runs, min=2, max=200, description="runs", continuous_update=False
        ),
        "steps": W.IntSlider(
            value=steps, min=1, max=500, description="steps", continuous_update=False
        ),
        "seed": W.IntText(value=seed, description="seed"),
    }

    def update(app: App) -> None:
        c = app.controls
        name = c["method"].value
        params = method_params(name, c["strength"].value)
        w0 = np.random.default_rng(int(c["seed"].value)).uniform(
            -1.0, 1.0, (int(c["runs"].value), 2)
        )
        traj = train(game, name, w0, lr=float(c["lr"].value), steps=int(c["steps"].value), **params)
        r = traj.final_rewards
        s90 = steps_to_fraction(traj.social_welfare, game.nash_welfare, game.optimum_welfare, 0.9)
        sw, eq = mean_ci(r.sum(-1)), mean_ci(equality(r))
        app.state.update(
            method=name,
            params=params,
            lr=float(c["lr"].value),
            trajectory=traj,
            w0=w0,
            final_actions=traj.final_actions,
            sw=sw,
            equality=eq,
            steps_to_90=s90,
            reached=float(np.mean(s90 >= 0)),
        )
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        a = traj.final_actions
        ax1.scatter(a[:, 0], a[:, 1], s=14, alpha=0.6, label="final actions")
        ax1.plot(0, 0, "s", color="tab:red", mfc="none", ms=8, label="Nash")
        ax1.plot(1, 1, "*", color="tab:green", ms=12, label="social optimum")
        ax1.set(
            xlim=(-0.05, 1.05),
            ylim=(-0.05, 1.05),
            xlabel="player 1 action a₁",
            xticks=np.linspace(0, 1, 6),
            ylabel="player 2 action a₂",
        )
        ax1.legend(fontsize=8, loc="center")
        ax1.set_title(f"final SW = {sw}, E = {eq}", fontsize=10)
        ci = mean_ci(traj.social_welfare, axis=1)
        t = np.arange(traj.steps + 1)
        ax2.plot(t, ci.mean, label="mean SW")
        ax2.fill_between(t, ci.low, ci.high, alpha=0.3, label="95% CI")
        ax2.axhline(game.nash_welfare, color="grey", ls=":")
        ax2.axhline(game.optimum_welfare, color="grey", ls="--")
        ok = s90 >= 0
        reach = f"mean {s90[ok].mean():.1f} steps" if ok.all() else f"{ok.mean():.0%} of runs"
        ax2.set(xlabel="step t", ylabel=r"social welfare $\sum_i r_i$")
        ax2.set_title(f"90% of the way Nash → optimum: {reach}", fontsize=10)
        ax2.legend(fontsize=8)
        ptxt = ", ".join(f"{k}={v:g}" for k, v in params.items())
        fig.suptitle(f"Public goods, {name}({ptxt}), lr = {app.state['lr']:.3g}")
        fig.tight_layout()
        show_figure(app, fig)

    return App(
        controls,
        update,
        title="The paper's public goods experiment, one method at a time",
        layout_rows=[["method", "strength"], ["lr", "steps"], ["runs", "seed"]],
    )
