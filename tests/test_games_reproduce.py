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
from rlcourse.reproduce import games as R  # noqa: E402


def test_reproduce_aga_quick_writes_figures_and_report(tmp_path) -> None:
    assert main(["reproduce", "aga", "--out", str(tmp_path), "--quick", "--no-progress"]) == 0
    names = ("aga_final_actions.png", "aga_welfare.png", "aga_flow.png")
    for name in names + ("aga_steps_vs_step_size.png", "aga_ipd.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    for label in R.EXPERIMENT_METHODS:
        assert f"| {label} |" in text
    assert "step-matched" in text and "iterated prisoner's dilemma" in text
    assert "CGA" in text and "SVO" in text and "course's choice" in text
    # the step-matched table: selfish methods never get 90% of the way at any step size
    speed = text.split("## Speed, step-matched")[1].split("![steps")[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([^|]+?) \|.*$", speed, re.M)}
    for label in ("Simul-Ind", "CO = CGA (γ=1)", "SGA (λ=1)", "LOLA (α=1)"):
        assert "never (at every step size)" in rows[label]
    for label in ("Simul-Co", "AgA (λ=1)", "AgA (λ=10)"):
        assert re.search(r"at α = (4|8|16) \|", rows[label]), rows[label]
    # AgA is Simul-Co with a larger step: matched, Simul-Co is at least as fast
    larger = text.split("Simul-Co with its step scaled")[1].split("## Cost")[0]
    rows = re.findall(r"^\| (1|10) \| [\d.]+ \| ([\d.]+) ± [\d.]+ \| ([\d.]+) ±", larger, re.M)
    assert len(rows) >= 12  # both |λ| at (almost) every step size of the grid
    for _, aga, co in rows:
        assert float(co) <= float(aga)
    assert (tmp_path / "aga_matched_step.png").stat().st_size > 10_000
    # the IPD: Simul-Ind defects, Simul-Co and AgA cooperate, each at its best step size
    ipd = text.split("## The iterated prisoner's dilemma")[1].split("## Notes")[0]
    coop = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^\| ([^|]+?) \| [\d.]+ \| ([\d.]+) ±", ipd, re.M)
    }
    assert set(coop) == set(R.IPD_METHODS)
    assert coop["Simul-Ind"] < 0.2 and coop["SGA (λ=1)"] < 0.2
    assert coop["Simul-Co"] > 0.9 and coop["AgA (λ=1)"] > 0.9


def test_step_size_sweep_picks_the_fastest_grid_step() -> None:
    sweep = R.sweep_public_goods(
        methods={k: R.EXPERIMENT_METHODS[k] for k in ("Simul-Ind", "Simul-Co")},
        lrs=(0.5, 1.0, 4.0),
        runs=10,
    )
    assert sweep.best("Simul-Ind") is None  # never reaches 90%
    m = sweep.mean_steps("Simul-Co")
    assert sweep.best("Simul-Co") == int(np.nanargmin(m)) == 2
    assert np.all(np.diff(m) < 0)
    with pytest.raises(ValueError, match="which: expected"):
        sweep.best("Simul-Co", which="fastest")


def test_ipd_experiment_picks_the_best_step_size_by_welfare() -> None:
    exp = R.run_ipd(
        runs=6, steps=30, lrs=(0.3, 3.0), methods={"Simul-Co": ("simul_co", {})}, seed=1
    )
    sw = exp.final_sw["Simul-Co"].mean(axis=1)
    assert exp.best_lr["Simul-Co"] == (0.3, 3.0)[int(np.argmax(sw))]
    out = exp.outcomes("Simul-Co")
    assert set(out) == {"cooperation rate", "social welfare SW", "equality E"}
    np.testing.assert_allclose(out["social welfare SW"], exp.final_sw["Simul-Co"][sw.argmax()])
    game = G.iterated_prisoners_dilemma()
    np.testing.assert_allclose(
        out["cooperation rate"], game.cooperation_rate(exp.best["Simul-Co"].w[-1]).mean(-1)
    )


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
    steps = {"a": np.array([[4, 5], [2, -1], [1, 1]])}
    fig = plots.steps_vs_step_size(np.array([0.5, 1.0, 2.0]), steps, best={"a": 2.0})
    y = fig.axes[0].lines[0].get_ydata()
    assert y[0] == 4.5 and np.isnan(y[1]) and y[2] == 1.0  # a run that never got there: no point
    plt.close(fig)
    fig = plots.outcome_bars({"m": {"SW": np.array([1.0, 2.0]), "E": np.array([0.5, 0.7])}})
    assert [ax.get_xlabel() for ax in fig.axes] == ["SW", "E"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"steps\['a'\]: expected 2 rows"):
        plots.steps_vs_step_size(np.array([0.5, 1.0]), steps)
    with pytest.raises(ValueError, match="values: expected at least one"):
        plots.outcome_bars({})
