"""Widgets of the welcome lesson."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from rlcourse._validate import as_array
from rlcourse.mdp import discounted_return
from rlcourse.widgets.base import App, show_figure

__all__ = ["discount_explorer"]


def discount_explorer(rewards: np.ndarray | None = None, gamma: float = 0.9) -> App:
    r"""Slide :math:`\gamma` and watch the weights :math:`\gamma^t`, the effective horizon
    :math:`1/(1-\gamma)` and the discounted return of ``rewards`` change.

    ``state`` holds ``gamma``, ``G`` (the discounted return) and ``horizon``.
    """
    r = (
        np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10.0] + [0.0] * 30)
        if rewards is None
        else as_array("rewards", rewards, ndim=1)
    )
    if r.size == 0:
        raise ValueError("rewards: expected a non-empty 1-d array, got an empty one")
    controls = {
        "gamma": W.FloatSlider(
            value=gamma, min=0.0, max=0.99, step=0.01, description="γ", continuous_update=False
        )
    }

    def update(app: App) -> None:
        g = float(app.controls["gamma"].value)
        t = np.arange(r.size)
        weights = g**t
        G = discounted_return(r, g)
        horizon = np.inf if g >= 1 else 1.0 / (1.0 - g)
        app.state.update(gamma=g, G=G, horizon=horizon, weights=weights)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
        ax1.bar(t, weights, color="tab:blue")
        ax1.axvline(horizon, color="tab:red", ls="--", label=rf"$1/(1-\gamma) = {horizon:.1f}$")
        ax1.set(xlabel="time step t", ylabel=r"weight $\gamma^t$", title="How much step t counts")
        ax1.legend()
        ax2.bar(t, r, color="tab:gray", label=r"reward $r_t$")
        ax2.bar(t, weights * r, color="tab:green", label=r"$\gamma^t r_t$")
        ax2.set(xlabel="time step t", ylabel="reward", title=f"Discounted return G = {G:.3f}")
        ax2.legend()
        fig.tight_layout()
        show_figure(app, fig)

    return App(controls, update, title="Discounting: how far ahead does the agent look?")
