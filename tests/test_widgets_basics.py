"""The welcome lesson's widget, driven headlessly."""

from __future__ import annotations

import numpy as np
import pytest

from rlcourse.mdp import discounted_return
from rlcourse.widgets import App, discount_explorer


def test_discount_explorer_recomputes_on_slider_change():
    rewards = np.array([1.0, 0.0, 2.0, 5.0])
    app = discount_explorer(rewards, gamma=0.9)
    assert isinstance(app, App)
    assert app.state["G"] == pytest.approx(discounted_return(rewards, 0.9))
    app.controls["gamma"].value = 0.5
    assert app.state["gamma"] == 0.5
    assert app.state["G"] == pytest.approx(1 + 0.25 * 2 + 0.125 * 5)
    assert app.state["horizon"] == pytest.approx(2.0)
    assert np.allclose(app.state["weights"], 0.5 ** np.arange(4))
    assert app.state["figure"].axes[0].get_xlabel() == "time step t"


def test_discount_explorer_rejects_bad_rewards():
    with pytest.raises(ValueError, match="rewards"):
        discount_explorer(np.ones((2, 2)))
    with pytest.raises(ValueError, match="rewards"):
        discount_explorer(np.array([]))
