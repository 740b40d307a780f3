"""`rlcourse reproduce aga --quick` end to end, and the games figures."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rlcourse import games as G  # noqa: E402
from rlcourse import plots  # noqa: E402
from rlcourse.cli import main  # noqa: E402


def test_reproduce_aga_quick_writes_figures_and_report(tmp_path) -> None:
    assert main(["reproduce", "aga", "--out", str(tmp_path), "--quick", "--no-progress"]) == 0
    for name in ("aga_final_actions.png", "aga_welfare.png", "aga_flow.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    for label in ("Simul-Ind", "Simul-Co", "CO (γ=1)", "SGA (λ=1)", "AgA (λ=1)", "AgA (λ=10)"):
        assert f"| {label} |" in text
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([^|]+?) \|.*$", text, re.M)}
    # selfish methods never get 90% of the way to the optimum, cooperative ones do
    for label in ("Simul-Ind", "CO (γ=1)", "SGA (λ=1)"):
        assert rows[label].endswith("| never |")
    steps = {
        label: float(re.search(r"\| ([\d.]+) ± [\d.]+ \|$", rows[label]).group(1))
        for label in ("Simul-Co", "AgA (λ=1)", "AgA (λ=10)")
    }
    assert steps["AgA (λ=10)"] < steps["AgA (λ=1)"] < steps["Simul-Co"]


def test_figures_return_figures_and_check_inputs() -> None:
    game = G.public_goods()
    w0 = np.random.default_rng(0).uniform(-1, 1, (6, 2))
    trs = {m: G.train(game, m, w0, lr=1.0, steps=10) for m in ("simul_ind", "simul_co")}
    labels = {
        "vf": plots.vector_field(game, "aga", lam=2.0).axes[0].get_xlabel(),
        "vfw": plots.vector_field(G.tandem(), space="parameter").axes[0].get_ylabel(),
        "sc": plots.final_actions_scatter(trs).axes[0].get_ylabel(),
        "sw": plots.welfare_curves(trs).axes[0].get_ylabel(),
    }
    plt.close("all")
    assert labels == {
        "vf": "player 1 action $a_1$",
        "vfw": "player 2 parameter $w_2$",
        "sc": "player 2 action $a_2$",
        "sw": r"social welfare $\sum_i r_i$",
    }
    for fig in (
        plots.vector_field(game, "aga", lam=2.0, trajectories=trs["simul_co"]),
        plots.vector_field(G.tandem(), space="parameter", trajectories=trs["simul_ind"].w),
        plots.final_actions_scatter(trs),
        plots.welfare_curves(trs, nash=2.0, optimum=3.0),
    ):
        assert isinstance(fig, Figure)
        assert fig.axes[0].get_xlabel()
        plt.close(fig)
    with pytest.raises(ValueError, match="game: expected a game with d = 2"):
        plots.vector_field(G.public_goods(n=3, p=2.0))
    with pytest.raises(ValueError, match="space: tandem is played in w directly"):
        plots.vector_field(G.tandem())
    with pytest.raises(ValueError, match="space: expected 'action' or 'parameter'"):
        plots.vector_field(game, space="w")
    with pytest.raises(ValueError, match="trajectories: expected at least one"):
        plots.final_actions_scatter({})
