"""``rlcourse reproduce aga``: the paper's two-player public goods experiment, and more.

- The public goods game: 50 seeded initialisations ``w ~ U(-1, 1)^2``, step size 1 (the
  course's choice), 100 steps, every method: the outcome table (r_1, r_2, SW, E with 95%
  CIs).
- Speed, step-matched: every method on one shared grid of step sizes (``LR_GRID``); steps
  to 90% and steps to converge at each method's own best step size, and the curves of steps
  against step size. In this game ``xi = -xi_c / 2`` exactly, so AgA with ``lambda < 0`` is
  Simul-Co with a step about ``1 + |lambda| / 2`` times larger (``larger_step_check``).
- The memory-1 iterated prisoner's dilemma (``run_ipd``), not a potential game: every
  method at its own best step size from ``IPD_LR_GRID`` (by final social welfare),
  cooperation rate, social welfare and equality with 95% CIs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlcourse._progress import progress as progress_bar
from rlcourse.games.ipd import iterated_prisoners_dilemma
from rlcourse.games.mechanics import collective_gradient, simultaneous_gradient
from rlcourse.games.methods import aga_signs
from rlcourse.games.metrics import (
    equality,
    mean_ci,
    steps_to_converge,
    steps_to_fraction,
)
from rlcourse.games.train import Trajectory, train
from rlcourse.games.zoo import public_goods

__all__ = [
    "EXPERIMENT_METHODS",
    "IPDExperiment",
    "IPD_LR_GRID",
    "IPD_METHODS",
    "LR_GRID",
    "LargerStep",
    "PGGExperiment",
    "StepSizeSweep",
    "cost_table",
    "ipd_table",
    "larger_step_check",
    "larger_step_figure",
    "larger_step_table",
    "outcome_table",
    "reproduce",
    "run_ipd",
    "run_public_goods",
    "step_matched_table",
    "sweep_public_goods",
]

#: The shared grid of step sizes for the public goods speed comparison (course's choice).
LR_GRID: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

# label -> (method name, params)
EXPERIMENT_METHODS: dict[str, tuple[str, dict[str, float]]] = {
    "Simul-Ind": ("simul_ind", {}),
    "Simul-Co": ("simul_co", {}),
    "CO = CGA (γ=1)": ("consensus", {"gamma": 1.0}),
    "SGA (λ=1)": ("sga", {"lam": 1.0}),
    "LOLA (α=1)": ("lola", {"alpha": 1.0}),
    "AgA (λ=1)": ("aga", {"lam": 1.0}),
    "AgA (λ=10)": ("aga", {"lam": 10.0}),
    "AgA exact sign (λ=1)": ("aga_exact_sign", {"lam": 1.0}),
}


@dataclass(frozen=True)
class PGGExperiment:
    """Runs of every method from the same initialisations, and the time per step of each."""

    trajectories: dict[str, Trajectory]
    seconds_per_step: dict[str, float]
    runs: int
    steps: int
    lr: float
    seed: int


def run_public_goods(
    *,
    runs: int = 50,
    steps: int = 100,
    lr: float = 1.0,
    seed: int = 0,
    timing_repeats: int = 5,
    progress: bool = False,
) -> PGGExperiment:
    """Train every method of ``EXPERIMENT_METHODS`` on ``public_goods(2, 1.5)``."""
    game = public_goods()
    w0 = np.random.default_rng(seed).uniform(-1.0, 1.0, (runs, game.dim))
    trajs: dict[str, Trajectory] = {}
    secs: dict[str, float] = {}
    items = progress_bar(
        EXPERIMENT_METHODS.items(),
        total=len(EXPERIMENT_METHODS),
        desc="aga: methods",
        enabled=progress,
    )
    for label, (method, params) in items:
        best = np.inf
        for _ in range(max(1, timing_repeats)):
            t0 = time.perf_counter()
            trajs[label] = train(game, method, w0, lr=lr, steps=steps, **params)
            best = min(best, time.perf_counter() - t0)
        secs[label] = best / steps
    return PGGExperiment(trajs, secs, runs, steps, lr, seed)


def _ci(x: np.ndarray, digits: int = 3) -> str:
    ci = mean_ci(x)
    return f"{float(ci.mean):.{digits}f} ± {float(ci.half_width):.{digits}f}"


def _steps_cell(s: np.ndarray) -> str:
    ok = s >= 0
    if not ok.any():
        return "never"
    if ok.sum() == 1:
        return f"{float(s[ok][0]):.0f} (1/{len(s)} runs)"
    text = _ci(s[ok].astype(float), digits=1)
    return text if ok.all() else f"{text} ({ok.sum()}/{len(s)} runs)"


def outcome_table(exp: PGGExperiment) -> str:
    """Markdown table: final ``r_1, r_2, SW, E``, mean ± 95% CI over runs; actions; diverged."""
    lines = [
        "| method | r₁ | r₂ | SW = r₁ + r₂ | E = 1 − Gini | mean final a₁, a₂ | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, tr in exp.trajectories.items():
        r = tr.final_rewards
        a = tr.final_actions.mean(axis=0)
        lines.append(
            f"| {label} | {_ci(r[:, 0])} | {_ci(r[:, 1])} | {_ci(r.sum(-1))} | "
            f"{_ci(equality(r))} | {a[0]:.3f}, {a[1]:.3f} | {int(tr.diverged.sum())} |"
        )
    return "\n".join(lines)


# -- step-matched speed on the public goods game ----------------------------------------------


@dataclass(frozen=True)
class StepSizeSweep:
    """Every method at every step size of one shared grid, from the same initialisations.

    ``to_90[label]``, ``to_converge[label]``: ``(L, runs)`` ints (``-1``: never; a diverged
    run never converges); ``diverged[label]``: ``(L, runs)`` bool; ``lrs``: ``(L,)``.
    """

    lrs: np.ndarray
    to_90: dict[str, np.ndarray]
    to_converge: dict[str, np.ndarray]
    diverged: dict[str, np.ndarray]
    runs: int
    steps: int
    seed: int

    def mean_steps(self, label: str, which: str = "to_90") -> np.ndarray:
        """``(L,)`` mean steps over runs; NaN at a step size where some run never got there."""
        s = self._table(which)[label]
        ok = (s >= 0).all(axis=1)
        return np.where(ok, np.where(s >= 0, s, 0).mean(axis=1), np.nan)

    def best(self, label: str, which: str = "to_90") -> int | None:
        """Index of the grid step size with the fewest mean steps (all runs there), else None.

        Ties go to the smaller step size.
        """
        m = self.mean_steps(label, which)
        if np.isnan(m).all():
            return None
        return int(np.nanargmin(m))

    def _table(self, which: str) -> dict[str, np.ndarray]:
        if which not in ("to_90", "to_converge"):
            raise ValueError(f"which: expected 'to_90' or 'to_converge', got {which!r}")
        return self.to_90 if which == "to_90" else self.to_converge


def sweep_public_goods(
    *,
    methods: dict[str, tuple[str, dict[str, float]]] | None = None,
    lrs: tuple[float, ...] = LR_GRID,
    runs: int = 50,
    steps: int = 100,
    seed: int = 0,
) -> StepSizeSweep:
    """Train every method at every step size of ``lrs`` on ``public_goods(2, 1.5)``."""
    methods = EXPERIMENT_METHODS if methods is None else methods
    game = public_goods()
    w0 = np.random.default_rng(seed).uniform(-1.0, 1.0, (runs, game.dim))
    to_90: dict[str, list[np.ndarray]] = {k: [] for k in methods}
    conv: dict[str, list[np.ndarray]] = {k: [] for k in methods}
    div: dict[str, list[np.ndarray]] = {k: [] for k in methods}
    for label, (method, params) in methods.items():
        for lr in lrs:
            tr = train(game, method, w0, lr=lr, steps=steps, **params)
            s90 = steps_to_fraction(tr.social_welfare, game.nash_welfare, game.optimum_welfare)
            to_90[label].append(np.where(tr.diverged, -1, s90))
            conv[label].append(steps_to_converge(tr.actions, diverged=tr.diverged))
            div[label].append(tr.diverged)
    return StepSizeSweep(
        np.asarray(lrs, dtype=float),
        {k: np.array(v) for k, v in to_90.items()},
        {k: np.array(v) for k, v in conv.items()},
        {k: np.array(v) for k, v in div.items()},
        runs,
        steps,
        seed,
    )


def _at(sweep: StepSizeSweep, label: str, which: str, i: int | None) -> str:
    if i is None:
        return "never (at every step size)"
    s = sweep._table(which)[label][i]
    return f"{_steps_cell(s)} at α = {sweep.lrs[i]:g}"


def step_matched_table(sweep: StepSizeSweep) -> str:
    """Markdown: each method at its own best step size of the shared grid, and at α = 1."""
    grid = ", ".join(f"{x:g}" for x in sweep.lrs)
    one = int(np.argmin(np.abs(sweep.lrs - 1.0)))
    lines = [
        f"Shared grid of step sizes α ∈ {{{grid}}}; best = fewest mean steps with every run "
        "getting there (ties: the smaller α).",
        "",
        "| method | steps to 90%, best α | steps to 90% at α = 1 | steps to converge, best α |",
        "|---|---|---|---|",
    ]
    for label in sweep.to_90:
        at_one = sweep.to_90[label][one]
        lines.append(
            f"| {label} | {_at(sweep, label, 'to_90', sweep.best(label))} | "
            f"{_steps_cell(at_one)} | "
            f"{_at(sweep, label, 'to_converge', sweep.best(label, 'to_converge'))} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class LargerStep:
    """AgA at step ``lr`` against Simul-Co at ``lr (1 + |lambda| / 2)``, same starts.

    ``max_xi_plus_half_xi_c``: ``max |xi + xi_c / 2|`` over every visited point (0 up to
    rounding: ``xi = -xi_c / 2`` in this game); ``negative_lambda``: share of AgA's steps
    with ``lambda < 0``; ``aga``, ``simul_co``: steps to 90% per run.
    """

    lam: float
    lr: float
    simul_co_lr: float
    aga: np.ndarray
    simul_co: np.ndarray
    negative_lambda: float
    max_xi_plus_half_xi_c: float


def larger_step_check(
    lams: tuple[float, ...] = (1.0, 10.0),
    *,
    lrs: tuple[float, ...] = (1.0,),
    runs: int = 50,
    seed: int = 0,
) -> list[LargerStep]:
    """Public goods: is AgA with ``|lambda|`` just Simul-Co with a step ``1 + |lambda|/2`` larger?

    With ``xi = -xi_c / 2`` and ``lambda = -|lambda|`` the AgA direction is
    ``(1 + |lambda| / 2) xi_c - |lambda| H_c xi_c``: Simul-Co's direction scaled up, plus
    a Hessian term. One row per ``(lam, lr)``: AgA at ``lr`` against Simul-Co at
    ``lr (1 + |lam| / 2)``, same starts.
    """
    game = public_goods()
    w0 = np.random.default_rng(seed).uniform(-1.0, 1.0, (runs, game.dim))
    nash, opt = game.nash_welfare, game.optimum_welfare
    out = []
    for lam in lams:
        for lr in lrs:
            tr = train(game, "aga", w0, lr=lr, steps=100, lam=lam)
            lr_co = lr * (1.0 + abs(lam) / 2.0)
            co = train(game, "simul_co", w0, lr=lr_co, steps=100)
            paper_sign = aga_signs(game, tr.w[:-1]).paper
            gap = simultaneous_gradient(game, tr.w) + 0.5 * collective_gradient(game, tr.w)
            out.append(
                LargerStep(
                    lam=float(lam),
                    lr=float(lr),
                    simul_co_lr=lr_co,
                    aga=np.where(tr.diverged, -1, steps_to_fraction(tr.social_welfare, nash, opt)),
                    simul_co=np.where(
                        co.diverged, -1, steps_to_fraction(co.social_welfare, nash, opt)
                    ),
                    negative_lambda=float((paper_sign < 0).mean()),
                    max_xi_plus_half_xi_c=float(np.abs(gap).max()),
                )
            )
    return out


def larger_step_table(rows: list[LargerStep]) -> str:
    """Markdown: AgA at α against Simul-Co at α (1 + |λ|/2)."""
    lines = [
        "| \\|λ\\| | α | AgA at α: steps to 90% | Simul-Co at α (1 + \\|λ\\|/2): steps to 90% | "
        "AgA steps with λ < 0 | max ‖ξ + ξ_c/2‖ |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.lam:g} | {r.lr:g} | {_steps_cell(r.aga)} | "
            f"{_steps_cell(r.simul_co)} (α = {r.simul_co_lr:g}) | {r.negative_lambda:.1%} | "
            f"{r.max_xi_plus_half_xi_c:.1e} |"
        )
    return "\n".join(lines)


def larger_step_figure(rows: list[LargerStep]) -> Any:
    """One panel per ``|lambda|``: steps to 90% of AgA and of Simul-Co at the same effective step.

    The x axis is the effective step ``alpha (1 + |lambda| / 2)``: Simul-Co's step size, and
    AgA's step size times ``1 + |lambda| / 2``.
    """
    import matplotlib.pyplot as plt

    from rlcourse.plots.games import steps_vs_step_size

    lams = sorted({r.lam for r in rows})
    fig, axes = plt.subplots(1, len(lams), figsize=(5.5 * len(lams), 4.2), squeeze=False)
    for ax, lam in zip(axes.flat, lams, strict=True):
        mine = [r for r in rows if r.lam == lam]
        steps_vs_step_size(
            np.array([r.simul_co_lr for r in mine]),
            {
                f"AgA (|λ|={lam:g}) at α": np.array([r.aga for r in mine]),
                "Simul-Co at α (1 + |λ|/2)": np.array([r.simul_co for r in mine]),
            },
            ax=ax,
            title=f"|λ| = {lam:g}",
        )
        ax.set_xlabel(r"effective step size $\alpha\,(1 + |\lambda|/2)$")
    fig.suptitle(
        "Public goods: at the same effective step size Simul-Co is at least as fast as AgA"
        if all(
            r.simul_co.mean() <= r.aga.mean()
            for r in rows
            if (r.aga >= 0).all() and (r.simul_co >= 0).all()
        )
        else "Public goods: AgA against Simul-Co at the same effective step size"
    )
    fig.tight_layout()
    return fig


def cost_table(exp: PGGExperiment, sweep: StepSizeSweep) -> str:
    """Markdown: time per step (ratio to Simul-Ind) and step-matched steps to converge."""
    base_time = exp.seconds_per_step["Simul-Ind"]
    lines = [
        "| method | time/step (µs) | time ratio | steps to converge, best α | "
        "steps to 90% of Nash→optimum SW, best α |",
        "|---|---|---|---|---|",
    ]
    for label in exp.trajectories:
        t = exp.seconds_per_step[label]
        cell = (
            _at(sweep, label, "to_converge", sweep.best(label, "to_converge"))
            if label in sweep.to_90
            else "—"
        )
        s90 = _at(sweep, label, "to_90", sweep.best(label)) if label in sweep.to_90 else "—"
        lines.append(f"| {label} | {t * 1e6:.0f} | {t / base_time:.2f} | {cell} | {s90} |")
    return "\n".join(lines)


# -- the iterated prisoner's dilemma ----------------------------------------------------------

#: label -> (method, params) on the IPD. Strengths are the course's choices; LOLA also at
#: alpha = 25 = 1 / (1 - gamma), i.e. alpha = 1 on the LOLA papers' unscaled returns V.
IPD_METHODS: dict[str, tuple[str, dict[str, float]]] = {
    "Simul-Ind": ("simul_ind", {}),
    "Simul-Co": ("simul_co", {}),
    "CO = CGA (γ=1)": ("consensus", {"gamma": 1.0}),
    "SGA (λ=1)": ("sga", {"lam": 1.0}),
    "LOLA (α=1)": ("lola", {"alpha": 1.0}),
    "LOLA (α=25)": ("lola", {"alpha": 25.0}),
    "AgA (λ=1)": ("aga", {"lam": 1.0}),
    "AgA exact sign (λ=1)": ("aga_exact_sign", {"lam": 1.0}),
}

#: The shared grid of step sizes on the IPD (course's choice).
IPD_LR_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class IPDExperiment:
    """Every method of ``IPD_METHODS`` at every step size of ``lrs``, same starts.

    ``final_sw[label]``: ``(L, runs)`` social welfare after the last step at each step size;
    ``best_lr[label]``: the step size with the highest mean final welfare (ties: smaller);
    ``best[label]``: the trajectory at that step size.
    """

    lrs: np.ndarray
    final_sw: dict[str, np.ndarray]
    best_lr: dict[str, float]
    best: dict[str, Trajectory]
    gamma: float
    runs: int
    steps: int
    seed: int

    def outcomes(self, label: str) -> dict[str, np.ndarray]:
        """Per-run cooperation rate (mean of the two players), SW and E at the best step size."""
        game = iterated_prisoners_dilemma(self.gamma)
        tr = self.best[label]
        r = tr.final_rewards
        return {
            "cooperation rate": game.cooperation_rate(tr.w[-1]).mean(axis=-1),
            "social welfare SW": r.sum(axis=-1),
            "equality E": equality(r),
        }


def run_ipd(
    *,
    runs: int = 50,
    steps: int = 200,
    lrs: tuple[float, ...] = IPD_LR_GRID,
    gamma: float = 0.96,
    seed: int = 0,
    methods: dict[str, tuple[str, dict[str, float]]] | None = None,
    progress: bool = False,
) -> IPDExperiment:
    """Train every method at every step size on the IPD from ``w ~ N(0, 1)^10`` (seeded)."""
    methods = IPD_METHODS if methods is None else methods
    game = iterated_prisoners_dilemma(gamma)
    w0 = np.random.default_rng(seed).normal(size=(runs, game.dim))
    final_sw: dict[str, np.ndarray] = {}
    best_lr: dict[str, float] = {}
    best: dict[str, Trajectory] = {}
    items = progress_bar(methods.items(), total=len(methods), desc="ipd: methods", enabled=progress)
    for label, (method, params) in items:
        trs = [train(game, method, w0, lr=lr, steps=steps, **params) for lr in lrs]
        sw = np.array([np.where(t.diverged, -np.inf, t.final_rewards.sum(-1)) for t in trs])
        final_sw[label] = sw
        i = int(np.argmax(sw.mean(axis=1)))
        best_lr[label] = float(lrs[i])
        best[label] = trs[i]
    return IPDExperiment(
        np.asarray(lrs, dtype=float), final_sw, best_lr, best, float(gamma), runs, steps, seed
    )


def ipd_table(exp: IPDExperiment) -> str:
    """Markdown: each method at its best step size; cooperation rate, SW, E (mean ± 95% CI)."""
    grid = ", ".join(f"{x:g}" for x in exp.lrs)
    lines = [
        f"| method | best α in {{{grid}}} | cooperation rate | SW = r₁ + r₂ | E = 1 − Gini | "
        "mean SW at each α | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in exp.best:
        o = exp.outcomes(label)
        per_lr = " / ".join(f"{m:.2f}" for m in exp.final_sw[label].mean(axis=1))
        lines.append(
            f"| {label} | {exp.best_lr[label]:g} | {_ci(o['cooperation rate'])} | "
            f"{_ci(o['social welfare SW'])} | {_ci(o['equality E'])} | {per_lr} | "
            f"{int(exp.best[label].diverged.sum())} |"
        )
    return "\n".join(lines)


def _speed_title(sweep: StepSizeSweep, labels: tuple[str, ...]) -> str:
    parts = []
    for label in labels:
        i = sweep.best(label)
        if i is not None:
            parts.append(f"{label} {sweep.mean_steps(label)[i]:.1f}")
    lines = [", ".join(parts[k : k + 2]) for k in range(0, len(parts), 2)]
    return (
        "Public goods: steps to 90% shrink with the step size, Simul-Co and AgA alike.\n"
        "Mean steps at each method's best α in the grid:\n" + ",\n".join(lines)
    )


def _ipd_title(exp: IPDExperiment) -> str:
    coop = {k: float(exp.outcomes(k)["cooperation rate"].mean()) for k in exp.best}
    yes = [k for k, c in coop.items() if c > 0.5]
    no = [k for k, c in coop.items() if c <= 0.5]
    return (
        "Iterated prisoner's dilemma, each method at its best step size (mean ± 95% CI)\n"
        f"mostly cooperate: {', '.join(yes) or 'none'}\nmostly defect: {', '.join(no) or 'none'}"
    )


def reproduce(out_dir: str | Path, quick: bool = False, progress: bool = True) -> Path:
    """Run the experiments and write PNG figures and ``report.md`` into ``out_dir``.

    ``quick`` only lowers the number of timing repeats (the experiments take seconds).
    Returns the report's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlcourse.plots.games import (
        final_actions_scatter,
        outcome_bars,
        steps_vs_step_size,
        vector_field,
        welfare_curves,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    game = public_goods()
    exp = run_public_goods(timing_repeats=1 if quick else 10, progress=progress)
    sweep = sweep_public_goods()
    larger = larger_step_check(lrs=LR_GRID)
    ipd = run_ipd(progress=progress)
    nash, opt = game.nash_welfare, game.optimum_welfare
    speed_labels = ("Simul-Co", "AgA (λ=1)", "AgA (λ=10)", "AgA exact sign (λ=1)")

    figs: dict[str, Any] = {}
    figs["aga_final_actions.png"] = final_actions_scatter(
        exp.trajectories,
        title="Public goods, step size 1: selfish methods end at Nash (0, 0), "
        "Simul-Co and AgA near (1, 1)",
    )
    figs["aga_welfare.png"] = welfare_curves(
        {k: exp.trajectories[k] for k in ("Simul-Ind", "Simul-Co", "AgA (λ=1)", "AgA (λ=10)")},
        nash=nash,
        optimum=opt,
        title="At one step size (1), AgA reaches the optimum sooner than Simul-Co:\n"
        "its step is effectively 1 + |λ|/2 times larger (see the step-matched figure)",
    )
    figs["aga_steps_vs_step_size.png"] = steps_vs_step_size(
        sweep.lrs,
        {k: sweep.to_90[k] for k in speed_labels},
        best={k: sweep.lrs[i] for k in speed_labels if (i := sweep.best(k)) is not None},
        title=_speed_title(sweep, speed_labels),
    )
    figs["aga_ipd.png"] = outcome_bars(
        {k: ipd.outcomes(k) for k in ipd.best},
        title=_ipd_title(ipd),
    )
    figs["aga_matched_step.png"] = larger_step_figure(larger)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    few = {k: exp.trajectories[k].actions[:, :8] for k in ("Simul-Ind", "AgA (λ=1)")}
    vector_field(
        game, "simul_ind", trajectories=few["Simul-Ind"], ax=axes[0], title="−ξ: towards Nash"
    )
    vector_field(
        game,
        "aga",
        lam=1.0,
        trajectories=few["AgA (λ=1)"],
        ax=axes[1],
        title="−AgA direction (λ=1): towards the optimum",
    )
    fig.tight_layout()
    figs["aga_flow.png"] = fig
    for name, f in figs.items():
        f.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(f)

    report = out / "report.md"
    report.write_text(
        f"""# AgA reproduction: public goods (step-matched) and the iterated prisoner's dilemma

Li et al., *Aligning Individual and Collective Objectives in Multi-Agent Cooperation*
(NeurIPS 2024), two-player public goods game: `r_i = 1 − a_i + (p/n)(a_1 + a_2)`, p = 1.5,
actions `a_i = σ(w_i)`. Nash equilibrium a = (0, 0) with SW = {nash:g}; social optimum
a = (1, 1) with SW = {opt:g}. Collective loss `ℓ_c = Σ_i ℓ_i`. CO is consensus
optimisation, which the paper calls CGA.

What is the course's choice, not known to be the paper's (the paper's text and code were not
available): p = 1.5, the step size 1 of the outcome table, the step-size grids, the method
strengths (γ, λ, α), 100 steps, the starts `w ~ U(−1, 1)²`, the speed measure (steps to
90%), the convergence threshold 10⁻³, and everything about the IPD.

## Outcomes at step size 1

{exp.runs} initialisations (seed {exp.seed}), step size {exp.lr:g}, {exp.steps} steps, every
method from the same initialisations. Values after the last step, mean ± 95% confidence
interval (Student t) over runs. λ in the method names is the magnitude |λ|; each step takes
its sign from the method's rule.

{outcome_table(exp)}

![final actions](aga_final_actions.png)

![social welfare](aga_welfare.png)

![flow fields](aga_flow.png)

## Speed, step-matched

A speed comparison at one shared step size measures the step size as much as the method.
Every method is run at every step size of one grid, from the same {sweep.runs} starts, and
compared at its own best step size.

{step_matched_table(sweep)}

![steps against step size](aga_steps_vs_step_size.png)

In this game a larger step is faster for every method until the sigmoid saturates, so the
best step size sits at or near the top of the grid and every method that reaches the
optimum gets there in one or two steps; the curves, not one number per method, are the
comparison. At every step size of the grid where both get there, AgA (|λ| = 1) needs fewer
steps than Simul-Co — because its step is larger, as the next table shows.

Why AgA looks faster at a fixed step size: in this game `ξ = −ξ_c / 2` exactly, and the
paper's sign makes λ negative on almost every step, so the AgA direction
`ξ_c + λ(ξ + H_c ξ_c) = (1 + |λ|/2) ξ_c − |λ| H_c ξ_c` is Simul-Co's direction scaled by
1 + |λ|/2, plus a Hessian term. Simul-Co with its step scaled the same way is as fast
(in fact slightly faster) at every step size of the grid:

{larger_step_table(larger)}

![matched step](aga_matched_step.png)

## Cost

Time per step of the batched update ({exp.runs} runs at once, step size 1, best of the timing
repeats; machine-dependent) and its ratio to Simul-Ind. In this two-parameter game the time
measures Python overhead more than the Hessian-vector product (see
`benchmarks/bench_games.py` for n = 100 players). "Steps to converge": first step after which
no action moves by 10⁻³ or more per step (a diverged run never converges); both step counts
at each method's own best step size of the grid.

{cost_table(exp, sweep)}

## The iterated prisoner's dilemma (a game where the methods differ)

The public goods game is a potential game (`A = 0`): there SGA and LOLA equal Simul-Ind.
The memory-1 iterated prisoner's dilemma (`games.iterated_prisoners_dilemma`, γ = {ipd.gamma:g},
payoffs CC 3, CD 0, DC 5, DD 1, rewards per round `(1 − γ) V_i`) is not. {ipd.runs} starts
`w ~ N(0, 1)¹⁰` (seed {ipd.seed}), {ipd.steps} steps, each method at the step size of the grid
with the highest mean final SW. Cooperation rate: the discounted frequency with which a
player cooperates, mean of the two players. SW lies between 2 (mutual defection) and 6
(mutual cooperation).

{ipd_table(ipd)}

![IPD outcomes](aga_ipd.png)

## Notes

- The public goods game is a potential game (`A = 0`), so SGA coincides with Simul-Ind here;
  so does LOLA (player j's gradient of ℓ_i depends on w_j only, so the look-ahead term has
  no gradient in w_i). Their curves lie exactly under Simul-Ind's.
- "AgA exact sign" is an ablation of this course: λ takes the exact sign of the derivative of
  cos²∠(ξ_c + λ(ξ + ∇ℋ_c), ∇ℋ_c) at λ = 0 instead of the paper's rule; the two agree only
  when ⟨ξ_c, ξ + ∇ℋ_c⟩ = 0.
- Left out of the paper's baselines: SVO (social value orientation, McKee et al. 2020) and
  SL, baselines of the paper's deep-RL experiments as re-stated to the course (their exact
  definitions in the paper were not read). They shape what deep RL agents optimise inside
  MAPPO rather than being update rules on a closed-form game, so they have no counterpart
  here. The MAPPO experiments (Cleanup, Harvest, Selfish-MMM2) are out of scope for this
  NumPy course and are not reproduced.
- The paper's 2-D toy game is not included: it did not behave as the paper describes in
  our implementation (see `rlcourse.games.zoo`).
""",
        encoding="utf-8",
    )
    return report
