"""Figures for the subsample half of the course (SUBSAMPLE-Q)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "bellman_noise_vs_m",
    "gap_decomposition",
    "gap_vs_k",
    "learning_time_vs_k",
    "return_vs_k",
    "tv_vs_k",
]


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(6, 4), layout="constrained")
    return fig, fig.add_subplot()


def _k_ticks(ax: Axes, ks: np.ndarray) -> None:
    """Plain integer ticks at the measured k on a log axis."""
    ax.set_xticks(ks, [str(int(k)) for k in ks])
    ax.minorticks_off()


def gap_vs_k(result, ax: Axes | None = None) -> Figure:
    """Optimality gap ``V(k=n) − V(k)`` vs k on log-log axes, with ±2 s.e. and a ``1/√k``
    guide through the first point. ``result``: :class:`rlcourse.subsample.GapResult`."""
    fig, ax = _axes(ax)
    ks, gaps, se = result.ks, result.gaps, result.gap_stderr
    ax.errorbar(ks, gaps, yerr=2 * se, marker="o", capsize=3, label="measured gap")
    pos = gaps > 0
    if pos.any():
        k0, g0 = ks[pos][0], gaps[pos][0]
        ax.plot(ks, g0 * np.sqrt(k0 / ks), "--", color="gray", label=r"$\propto 1/\sqrt{k}$")
    ax.set_xscale("log")
    if pos.all():
        ax.set_yscale("log")
    ax.set_xlabel("k (agents sampled)")
    ax.set_ylabel(r"gap $V(k{=}n) - V(k)$ (discounted reward)")
    _k_ticks(ax, ks)
    if not pos.any():
        ax.set_title(f"{result.label}:\nno gap at any k ($\\pi_k$ plays like the benchmark)")
    elif np.all(np.abs(gaps) <= 2 * se):
        ax.set_title(f"{result.label}:\nno gap distinguishable from 0 (±2 s.e.) at any k")
    else:  # the fitted slope is a summary, not a claim that the gap falls monotonically
        ax.set_title(f"{result.label}:\ngap against k, fitted log-log slope {result.slope:.2f}")
    ax.legend()
    return fig


def return_vs_k(result, ax: Axes | None = None) -> Figure:
    """Discounted return of ``π_k`` vs k against the k = n benchmark."""
    fig, ax = _axes(ax)
    ax.errorbar(
        result.ks,
        result.returns,
        yerr=2 * result.stderr,
        marker="o",
        capsize=3,
        label="SUBSAMPLE-Q, k sampled",
    )
    ax.axhline(result.ref_return, color="k", ls="--", label=f"k = n = {result.n}")
    ax.set_xscale("log")
    _k_ticks(ax, result.ks)
    ax.set_xlabel("k (agents sampled)")
    ax.set_ylabel("discounted return (reward units)")
    ax.set_title(f"{result.label}: the return approaches the k = n benchmark")
    ax.legend()
    return fig


def learning_time_vs_k(result, ax: Axes | None = None) -> Figure:
    """Learning time of SUBSAMPLE-Q vs k (log-log)."""
    fig, ax = _axes(ax)
    ax.plot(result.ks, result.seconds, "o-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k (agents sampled)")
    ax.set_ylabel("learning time (s)")
    ax.set_title(f"{result.label}: time grows polynomially in k (slope {result.slope:.1f})")
    return fig


def bellman_noise_vs_m(result, ax: Axes | None = None) -> Figure:
    """Bellman noise ``ε_{k,m}`` vs m (log-log) with a ``1/√m`` guide."""
    fig, ax = _axes(ax)
    ms, mean = result.ms, result.mean
    ax.plot(ms, result.eps.T, ".", color="C0", alpha=0.4)
    ax.plot(ms, mean, "o-", color="C0", label="mean over seeds")
    ax.plot(ms, mean[0] * np.sqrt(ms[0] / ms), "--", color="gray", label=r"$\propto 1/\sqrt{m}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m (samples per entry)")
    ax.set_ylabel(r"$\epsilon_{k,m} = \|\hat Q_{k,m} - Q^*_k\|_\infty$")
    ax.set_title(f"{result.label} (k={result.k}): noise shrinks like $m^{{{result.slope:.2f}}}$")
    ax.legend()
    return fig


def tv_vs_k(result, ax: Axes | None = None) -> Figure:
    """Upper quantile of the TV error of the subsampled histogram vs k, with and without
    replacement, and of ``½ max_x |F_Δ(x) − F(x)|``, against the DKW-type bound (which
    controls the latter, not the TV)."""
    fig, ax = _axes(ax)
    q = 1 - result.delta
    ax.plot(result.ks, result.tv_without, "o-", label=f"TV, without replacement ({q:.0%} quantile)")
    ax.plot(result.ks, result.tv_with, "s-", label=f"TV, with replacement ({q:.0%} quantile)")
    ax.plot(result.ks, result.max_without, "^-", label=r"½ max$_x$ deviation, without repl.")
    ax.plot(
        result.ks,
        result.bound,
        "--",
        color="gray",
        label=r"bound on ½ max$_x$ dev.: $\sqrt{(n-k+1)\,\ln(2L/\delta)\,/\,(8nk)}$",
    )
    ax.set_xlabel("k (agents sampled)")
    ax.set_ylabel(r"distance between $F_\Delta$ and $F_{[n]}$")
    ax.set_title(f"n = {result.n}: sampling without replacement is exact at k = n")
    ax.legend()
    return fig


PART_NAMES = ("mismatch", "sampling", "noise", "truncation")


def gap_decomposition(results, fig: Figure | None = None) -> Figure:
    """The exact parts of the gap (:func:`rlcourse.subsample.decomposition.decompose_gap`)
    against k, one line per m: one panel per part and one for the total. ``results`` is a
    list of :class:`GapDecomposition` (several seeds of one ``(k, m)`` are averaged)."""
    if fig is None:
        fig = Figure(figsize=(10, 5.6), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True).ravel()
    ms = sorted({r.m for r in results}, key=lambda m: float("inf") if m is None else m)
    ks = sorted({r.k for r in results})
    for name, ax in zip((*PART_NAMES, "total"), axes, strict=False):
        for j, m in enumerate(ms):
            ys = [np.mean([getattr(r, name) for r in results if r.k == k and r.m == m]) for k in ks]
            ax.plot(ks, ys, "o-", color=f"C{j}", label="m = ∞" if m is None else f"m = {m}")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_title(name if name != "total" else r"total gap $V^* - V^{\hat\pi}$")
        ax.set_xticks(ks, [str(k) for k in ks])
    axes[0].set_ylabel("value (discounted reward)")
    axes[3].set_ylabel("value (discounted reward)")
    for ax in axes[2:5]:
        ax.set_xlabel("k (agents sampled)")
        ax.xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes[4].get_legend_handles_labels()
    axes[5].legend(handles, labels, loc="center", title="samples per entry")
    axes[5].axis("off")
    r0 = results[0]
    T = "fixed point" if r0.T is None else f"T = {r0.T}"
    fig.suptitle(f"n = {r0.n}, {T}: the gap of Algorithm 2 taken apart exactly (no simulation)")
    return fig
