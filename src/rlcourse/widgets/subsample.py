"""Widgets of the subsample lessons (SUBSAMPLE-Q, lessons 01–05)."""

from __future__ import annotations

from math import comb

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from rlcourse._validate import check_int
from rlcourse.subsample.execution import SubsampledPolicy, evaluate
from rlcourse.subsample.model import GlobalLocalMDP
from rlcourse.subsample.planning import solve_mean_field, subsample_q, subsample_q_bytes
from rlcourse.widgets.base import App, show_figure

__all__ = [
    "bellman_noise_explorer",
    "gap_explorer",
    "joint_size_explorer",
    "learning_cost_explorer",
    "table_sizes",
]

_GB = 1e9


def joint_size_explorer(n: int = 5, L: int = 3, n_global: int = 2, n_actions: int = 2) -> App:
    r"""Slide the number of agents n and of local states L; watch the joint state space
    :math:`|S_g| L^n` and the Q-table :math:`|S_g||A_g| L^n` explode.

    ``state`` holds ``n``, ``L``, ``joint_states`` (``|S_g| L^n``), ``q_entries``
    (``|S_g||A_g| L^n``), ``kernel_entries`` (``(|S_g| L^n)^2 |A_g|``, a dense joint transition
    matrix) and ``q_bytes`` (8 bytes per Q entry).
    """
    n = check_int("n", n, low=1, high=40)
    L = check_int("L", L, low=2, high=10)
    n_global = check_int("n_global", n_global, low=1)
    n_actions = check_int("n_actions", n_actions, low=1)
    controls = {
        "n": W.IntSlider(value=n, min=1, max=40, description="n agents", continuous_update=False),
        "L": W.IntSlider(value=L, min=2, max=10, description="L states", continuous_update=False),
    }

    def update(app: App) -> None:
        n_, L_ = int(app.controls["n"].value), int(app.controls["L"].value)
        joint = n_global * L_**n_
        q_entries = joint * n_actions
        kernel = joint * joint * n_actions
        app.state.update(
            n=n_,
            L=L_,
            joint_states=joint,
            q_entries=q_entries,
            kernel_entries=kernel,
            q_bytes=8 * q_entries,
        )
        ns = np.arange(1, 41)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        q_curve = n_global * n_actions * np.power(float(L_), ns)
        ax.semilogy(ns, q_curve, label=rf"Q-table $|S_g|\,|A_g|\,L^n$ ($L = {L_}$)")
        ax.semilogy(
            ns, q_curve**2 / n_actions, ":", label=r"dense transition matrix $(|S_g| L^n)^2 |A_g|$"
        )
        ax.axhline(_GB / 8, color="tab:red", ls="--", label="1 GB of float64")
        ax.plot([n_], [q_entries], "o", color="k")
        ax.set(
            xlabel="number of local agents n",
            ylabel="entries (log scale)",
            ylim=(1, 1e40),
            title=f"n = {n_}: {q_entries:.3g} Q entries ({8 * q_entries / _GB:.2g} GB)",
        )
        ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        show_figure(app, fig)

    return App(
        controls, update, title="The joint state space grows like Lⁿ", layout_rows=[["n", "L"]]
    )


def table_sizes(n: int = 50, k: int = 5, L: int = 3, n_global: int = 2, n_actions: int = 2) -> App:
    r"""Sliders n, k, L over the four table sizes of one Bellman sweep (entries of Q):
    full tabular :math:`|S_g||A_g| L^n`, mean-field at k = n :math:`|S_g||A_g| C(n+L-1, L-1)`,
    raw k-tuples :math:`|S_g||A_g| L^k` and k-histograms :math:`|S_g||A_g| C(k+L-1, L-1)`.

    ``state`` holds ``n``, ``k`` (clipped to n), ``L`` and the four sizes ``full``,
    ``mean_field``, ``raw_tuples``, ``histograms`` (Python ints, exact).
    """
    n = check_int("n", n, low=1, high=200)
    k = check_int("k", k, low=1, high=200)
    L = check_int("L", L, low=2, high=30)
    n_global = check_int("n_global", n_global, low=1)
    n_actions = check_int("n_actions", n_actions, low=1)
    controls = {
        "n": W.IntSlider(value=n, min=1, max=200, description="n agents", continuous_update=False),
        "k": W.IntSlider(value=k, min=1, max=200, description="k sampled", continuous_update=False),
        "L": W.IntSlider(value=L, min=2, max=30, description="L states", continuous_update=False),
    }

    def update(app: App) -> None:
        n_ = int(app.controls["n"].value)
        k_ = min(int(app.controls["k"].value), n_)
        L_ = int(app.controls["L"].value)
        SA = n_global * n_actions
        sizes = {
            "full": SA * L_**n_,
            "mean_field": SA * comb(n_ + L_ - 1, L_ - 1),
            "raw_tuples": SA * L_**k_,
            "histograms": SA * comb(k_ + L_ - 1, L_ - 1),
        }
        app.state.update(n=n_, k=k_, L=L_, **sizes)
        xs = np.arange(1, max(n_, 2) + 1)
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        ax.semilogy(xs, [SA * float(L_) ** x for x in xs], label=r"tuples: $|S_g|\,|A_g|\,L^x$")
        ax.semilogy(
            xs, [SA * comb(int(x) + L_ - 1, L_ - 1) for x in xs], label="histograms: C(x+L−1, L−1)"
        )
        ax.axvline(k_, color="tab:green", ls="--", label=f"k = {k_}")
        ax.axvline(n_, color="k", ls=":", label=f"n = {n_}")
        ax.axhline(1e9 / 8, color="tab:red", lw=0.8, label="1 GB of float64")
        ax.set(
            xlabel="number of agents x in the table",
            ylabel="Q entries (log scale)",
            title=(
                f"k = {k_}: {sizes['histograms']:.3g} histogram entries vs "
                f"{float(sizes['full']):.3g} for the full system"
            ),
        )
        ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        show_figure(app, fig)

    return App(controls, update, title="Four ways to tabulate Q", layout_rows=[["n", "k", "L"]])


_M_CHOICES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def bellman_noise_explorer(
    mdp: GlobalLocalMDP, k: int = 4, m: int = 10, seed: int = 0, tol: float = 1e-8
) -> App:
    r"""Slide the number of samples m (and the seed) of SUBSAMPLE-Q on the k-agent surrogate;
    compare its fixed point :math:`\hat Q_{k,m}` with the exact :math:`Q^*_k`.

    ``state`` holds ``m``, ``seed``, ``k``, ``eps`` (``||Q̂_{k,m} − Q*_k||_∞``), ``q_hat``,
    ``q_star``, ``sweeps`` and ``policy_agreement`` (fraction of (s_g, c) where the greedy
    actions agree).
    """
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")
    k = check_int("k", k, low=1)
    if m not in _M_CHOICES:
        raise ValueError(f"m: expected one of {_M_CHOICES}, got {m!r}")
    seed = check_int("seed", seed, low=0)
    q_star = solve_mean_field(mdp, k).q
    controls = {
        "m": W.SelectionSlider(
            options=list(_M_CHOICES), value=m, description="m samples", continuous_update=False
        ),
        "seed": W.IntSlider(value=seed, min=0, max=20, description="seed", continuous_update=False),
    }

    def update(app: App) -> None:
        m_, seed_ = int(app.controls["m"].value), int(app.controls["seed"].value)
        res = subsample_q(mdp, k, m=m_, T=100_000, tol=tol, rng=seed_)
        eps = float(np.max(np.abs(res.q - q_star)))
        agree = float(np.mean(res.policy == q_star.argmax(axis=2)))
        app.state.update(
            m=m_,
            seed=seed_,
            k=k,
            eps=eps,
            q_hat=res.q,
            q_star=q_star,
            sweeps=res.sweeps,
            policy_agreement=agree,
        )
        fig, ax = plt.subplots(figsize=(6, 3.6))
        lo, hi = float(q_star.min()), float(q_star.max())
        ax.plot([lo, hi], [lo, hi], color="gray", lw=1)
        ax.plot(q_star.ravel(), res.q.ravel(), ".", alpha=0.6)
        ax.set(
            xlabel=r"exact $Q^*_k(s_g, c, a_g)$",
            ylabel=r"SUBSAMPLE-Q $\hat{Q}_{k,m}$",
            title=f"m = {m_}: ε = {eps:.3f}, greedy actions agree on {agree:.0%}",
        )
        fig.tight_layout()
        show_figure(app, fig)

    return App(
        controls,
        update,
        title=f"Bellman noise of SUBSAMPLE-Q (k = {k})",
        layout_rows=[["m", "seed"]],
    )


def gap_explorer(
    mdp: GlobalLocalMDP,
    n: int = 20,
    k: int = 1,
    *,
    horizon: int = 30,
    episodes: int = 400,
    seed: int = 0,
) -> App:
    r"""Slide k: learn the exact :math:`\pi_k` (:func:`solve_mean_field`), run Algorithm 2 on
    the n-agent system and compare its discounted return with the k = n policy, on the same
    start states and transition noise (common random numbers).

    ``state`` holds ``k``, ``ret`` and ``ref_ret`` (mean returns), ``gap`` (mean paired
    difference ``V(k=n) − V(k)``), ``gap_stderr`` and ``history`` (``{k: gap}`` of the k's visited).
    """
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)
    horizon = check_int("horizon", horizon, low=1)
    episodes = check_int("episodes", episodes, low=2)
    seed = check_int("seed", seed, low=0)
    gen = np.random.default_rng(seed)
    s0 = (gen.integers(0, mdp.n_global, episodes), gen.integers(0, mdp.L, (episodes, n)))

    def returns(res) -> np.ndarray:
        pol = SubsampledPolicy(res, n, res.k)
        return evaluate(
            mdp, pol, n=n, s0=s0, horizon=horizon, episodes=episodes, rng=seed + 1
        ).returns

    R_ref = returns(solve_mean_field(mdp, n))
    history: dict[int, float] = {}
    controls = {
        "k": W.IntSlider(value=k, min=1, max=n, description="k sampled", continuous_update=False)
    }

    def update(app: App) -> None:
        k_ = int(app.controls["k"].value)
        R = returns(solve_mean_field(mdp, k_))
        diff = R_ref - R
        gap = float(diff.mean())
        se = float(diff.std(ddof=1) / np.sqrt(episodes))
        history[k_] = gap
        app.state.update(
            k=k_,
            ret=float(R.mean()),
            ref_ret=float(R_ref.mean()),
            gap=gap,
            gap_stderr=se,
            history=dict(sorted(history.items())),
        )
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        ks = np.array(sorted(history))
        ax.plot(ks, [history[x] for x in ks], "o-", label="measured gap V(k=n) − V(k)")
        ax.errorbar([k_], [gap], yerr=[2 * se], fmt="o", color="k", capsize=3, label="current k")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set(
            xlim=(0.5, n + 0.5),
            xlabel="k (agents sampled each step)",
            ylabel="gap (discounted reward)",
            title=f"k = {k_}: gap {gap:.4f} ± {2 * se:.4f} (n = {n})",
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        show_figure(app, fig)

    return App(controls, update, title="Optimality gap of Algorithm 2 against k")


def learning_cost_explorer(
    mdp: GlobalLocalMDP, n: int = 8, k: int = 3, m: int = 10, T: int = 20
) -> App:
    r"""Sliders k, m, T for SUBSAMPLE-Q on ``mdp``: table entries
    :math:`|S_g||A_g|\binom{k+L-1}{L-1}`, sampled look-ups per run (entries × m × T) and the
    memory estimate of :func:`~rlcourse.subsample.estimate_bytes`, for every k up to n.

    ``state`` holds ``k``, ``m``, ``T``, ``entries``, ``lookups``, ``bytes`` (for the current
    k) and ``ratio_to_n`` (look-ups at k = n divided by look-ups at k).
    """
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")
    n = check_int("n", n, low=1, high=200)
    k = check_int("k", k, low=1, high=n)
    m = check_int("m", m, low=1, high=1000)
    T = check_int("T", T, low=1, high=1000)
    S_g, A, L = mdp.n_global, mdp.n_actions, mdp.L
    controls = {
        "k": W.IntSlider(value=k, min=1, max=n, description="k sampled", continuous_update=False),
        "m": W.IntSlider(
            value=m, min=1, max=1000, description="m samples", continuous_update=False
        ),
        "T": W.IntSlider(value=T, min=1, max=1000, description="T sweeps", continuous_update=False),
    }

    def update(app: App) -> None:
        k_, m_, T_ = (int(app.controls[x].value) for x in ("k", "m", "T"))
        ks = np.arange(1, n + 1)
        N = np.array([comb(int(x) + L - 1, L - 1) for x in ks], dtype=float)
        entries = S_g * A * N
        lookups = entries * m_ * T_
        nbytes = subsample_q_bytes(mdp, k_, m_)  # what subsample_q's memory guard computes
        app.state.update(
            k=k_,
            m=m_,
            T=T_,
            entries=int(entries[k_ - 1]),
            lookups=int(lookups[k_ - 1]),
            bytes=float(nbytes),
            ratio_to_n=float(lookups[-1] / lookups[k_ - 1]),
        )
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        ax.semilogy(ks, lookups, "o-", label="look-ups per run: entries · m · T")
        ax.semilogy(ks, entries, "s--", label=r"Q entries $|S_g|\,|A_g|\,C(k+L-1,\,L-1)$")
        ax.plot([k_], [lookups[k_ - 1]], "o", color="k", ms=9)
        ax.set(
            xlabel="k (agents in the surrogate)",
            ylabel="count (log scale)",
            title=(
                f"k = {k_}: {lookups[k_ - 1]:.2g} look-ups, {nbytes / 1e9:.2g} GB; "
                f"k = n costs ×{lookups[-1] / lookups[k_ - 1]:.2g}"
            ),
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        show_figure(app, fig)

    return App(
        controls, update, title=f"Cost of SUBSAMPLE-Q (L = {L})", layout_rows=[["k", "m", "T"]]
    )
