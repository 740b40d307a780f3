"""Experiments of the paper: optimality gap vs k (common random numbers across k), learning
time vs k, Bellman noise ``ε_{k,m}`` vs m, and the sampling error behind the 1/√k rate.
Each returns a small frozen result that :mod:`rlcourse.plots` draws."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rlcourse._progress import progress as _progress
from rlcourse._validate import check_int, check_open_interval, make_rng
from rlcourse.subsample.execution import (
    Policy,
    SubsampledPolicy,
    dkw_bound,
    evaluate,
    subsample_tv,
)
from rlcourse.subsample.model import GlobalLocalMDP
from rlcourse.subsample.planning import QResult, solve_mean_field, subsample_q

__all__ = [
    "GapResult",
    "NoiseResult",
    "TVResult",
    "TimingResult",
    "bellman_noise_vs_m",
    "fit_slope",
    "gap_vs_k",
    "learning_time_vs_k",
    "tv_vs_k",
]


def fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x`` over the entries with ``y > 0``
    (NaN when fewer than two remain)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def _ks(name: str, ks, high: int | None = None) -> np.ndarray:
    arr = np.asarray(ks)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected a non-empty 1-d list of integers, got {ks!r}")
    if arr.min() < 1 or (high is not None and arr.max() > high):
        raise ValueError(f"{name}: expected values in [1, {high}], got {arr.tolist()}")
    return arr.astype(int)


def _learn(
    mdp: GlobalLocalMDP, k: int, m: int | None, T: int, seed: int, value_dtype: type = np.float64
) -> QResult:
    if m is None:
        return solve_mean_field(mdp, k)
    return subsample_q(mdp, k, m=m, T=T, rng=seed, value_dtype=value_dtype)


@dataclass(frozen=True)
class GapResult:
    """``gaps[i] = V(k = n) - V(k = ks[i])`` (paired Monte-Carlo means over episodes)."""

    label: str
    n: int
    ks: np.ndarray
    returns: np.ndarray
    stderr: np.ndarray
    ref_return: float
    ref_stderr: float
    reference: str
    gaps: np.ndarray
    gap_stderr: np.ndarray
    learn_seconds: np.ndarray

    @property
    def slope(self) -> float:
        """Fitted slope of log-gap vs log-k (the paper states an upper bound ~ k^(-1/2))."""
        return fit_slope(self.ks, self.gaps)


def gap_vs_k(
    mdp: GlobalLocalMDP,
    n: int,
    ks,
    *,
    m: int | None,
    T: int,
    horizon: int,
    episodes: int,
    seed: int,
    reference: QResult | Policy | None = None,
    label: str = "",
    progress: bool = False,
    value_dtype: type = np.float64,
) -> GapResult:
    """Learn ``π_k`` for every k (SUBSAMPLE-Q with m samples and T sweeps, or the exact
    operator when ``m is None``), run Algorithm 2 on the n-agent system and compare with the
    k = n policy (``reference``: a result learned at k = n, or any policy with ``.act`` such
    as a certified :class:`GlobalPolicy`; default: exact mean-field at k = n). All policies
    start from the same random states and share the transition noise (common random
    numbers). ``value_dtype`` is passed to :func:`subsample_q`."""
    n = check_int("n", n, low=1)
    ks = _ks("ks", ks, high=n)
    horizon = check_int("horizon", horizon, low=1)
    episodes = check_int("episodes", episodes, low=2)
    seed = check_int("seed", seed, low=0)
    rng = make_rng(seed)
    s0 = (rng.integers(0, mdp.n_global, episodes), rng.integers(0, mdp.L, (episodes, n)))
    if reference is None:
        reference = solve_mean_field(mdp, n)
    if isinstance(reference, QResult):
        if reference.k != n:
            raise ValueError(
                f"reference: expected a result learned with k = n = {n}, got k={reference.k}"
            )
    elif not callable(getattr(reference, "act", None)):
        raise ValueError(
            f"reference: expected a QResult or a policy with .act, got {type(reference).__name__}"
        )

    def run(res: QResult | Policy) -> np.ndarray:
        pol = SubsampledPolicy(res, n, res.k) if isinstance(res, QResult) else res
        return evaluate(
            mdp, pol, n=n, s0=s0, horizon=horizon, episodes=episodes, rng=seed + 1
        ).returns

    R_ref = run(reference)
    rets, secs, diffs = [], [], []
    for k in _progress(ks, total=len(ks), desc=f"gap vs k {label}", enabled=progress):
        t0 = time.perf_counter()
        res = _learn(mdp, int(k), m, T, seed + 2 + int(k), value_dtype)
        secs.append(time.perf_counter() - t0)
        R = run(res)
        rets.append(R)
        diffs.append(R_ref - R)
    sq = np.sqrt(episodes)
    rets_a, diffs_a = np.array(rets), np.array(diffs)
    return GapResult(
        label=label,
        n=n,
        ks=ks,
        returns=rets_a.mean(1),
        stderr=rets_a.std(1, ddof=1) / sq,
        ref_return=float(R_ref.mean()),
        ref_stderr=float(R_ref.std(ddof=1) / sq),
        reference=getattr(reference, "method", type(reference).__name__),
        gaps=diffs_a.mean(1),
        gap_stderr=diffs_a.std(1, ddof=1) / sq,
        learn_seconds=np.array(secs),
    )


@dataclass(frozen=True)
class TimingResult:
    """Learning time of SUBSAMPLE-Q per k and the rate of sampled backups
    ``|S_g| N |A_g| m T / seconds``."""

    label: str
    ks: np.ndarray
    seconds: np.ndarray
    entries: np.ndarray
    m: int
    T: int

    @property
    def backups_per_s(self) -> np.ndarray:
        return self.entries * self.m * self.T / self.seconds

    @property
    def slope(self) -> float:
        """Fitted slope of log-time vs log-k."""
        return fit_slope(self.ks, self.seconds)


def learning_time_vs_k(
    mdp: GlobalLocalMDP, ks, *, m: int, T: int, seed: int, label: str = "", progress: bool = False
) -> TimingResult:
    """Wall-clock time of :func:`subsample_q` for every k."""
    ks = _ks("ks", ks)
    secs, entries = [], []
    for k in _progress(ks, total=len(ks), desc=f"learning time {label}", enabled=progress):
        t0 = time.perf_counter()
        res = subsample_q(mdp, int(k), m=m, T=T, rng=seed)
        secs.append(time.perf_counter() - t0)
        entries.append(res.q.size)
    return TimingResult(label, ks, np.array(secs), np.array(entries), m, T)


@dataclass(frozen=True)
class NoiseResult:
    """``eps[s, i] = ||Q̂_{k, ms[i]} − Q*_k||_∞`` for seeds s (fixed points of the sampled
    operator, reached to ``tol``)."""

    label: str
    k: int
    ms: np.ndarray
    eps: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.eps.mean(axis=0)

    @property
    def slope(self) -> float:
        """Fitted slope of log-ε vs log-m (≈ -1/2 expected)."""
        return fit_slope(self.ms, self.mean)


def bellman_noise_vs_m(
    mdp: GlobalLocalMDP,
    k: int,
    ms,
    *,
    seeds: int = 3,
    tol: float = 1e-6,
    max_sweeps: int = 1000,
    label: str = "",
    progress: bool = False,
) -> NoiseResult:
    """Bellman noise ``ε_{k,m}`` against the exact ``Q*_k`` (:func:`solve_mean_field`)."""
    k = check_int("k", k, low=1)
    ms = _ks("ms", ms)
    seeds = check_int("seeds", seeds, low=1)
    q_star = solve_mean_field(mdp, k).q
    eps = np.zeros((seeds, len(ms)))
    jobs = [(s, i) for s in range(seeds) for i in range(len(ms))]
    for s, i in _progress(jobs, total=len(jobs), desc=f"noise vs m {label}", enabled=progress):
        q = subsample_q(mdp, k, m=int(ms[i]), T=max_sweeps, tol=tol, rng=1000 * s + i).q
        eps[s, i] = np.max(np.abs(q - q_star))
    return NoiseResult(label, k, ms, eps)


@dataclass(frozen=True)
class TVResult:
    """Upper ``1-δ`` quantiles of ``TV(F_Δ, F_[n])`` over random k-subsets, with and without
    replacement, of ``½ max_x |F_Δ(x) − F(x)|`` without replacement, and the bound
    ``sqrt((n-k+1)/(8nk) ln(2L/δ))`` — which controls ``½ max_x |F_Δ(x) − F(x)|``
    (``max_without``), not the TV (see :func:`dkw_bound`)."""

    n: int
    L: int
    ks: np.ndarray
    delta: float
    tv_without: np.ndarray
    tv_with: np.ndarray
    max_without: np.ndarray
    bound: np.ndarray


def tv_vs_k(
    s_local: np.ndarray, L: int, ks, *, trials: int, delta: float, rng: np.random.Generator | int
) -> TVResult:
    """Empirical sampling error of the subsampled histogram vs k (lesson 04)."""
    s_local = np.asarray(s_local)
    n = s_local.shape[0] if s_local.ndim == 1 else 0
    ks = _ks("ks", ks, high=max(n, 1))
    delta = check_open_interval("delta", delta, 0.0, 1.0)
    rng = make_rng(rng)
    q = 1 - delta
    wo = [np.quantile(subsample_tv(s_local, k, L, trials=trials, rng=rng), q) for k in ks]
    wi = [
        np.quantile(subsample_tv(s_local, k, L, trials=trials, rng=rng, replace=True), q)
        for k in ks
    ]
    mx = [
        np.quantile(subsample_tv(s_local, k, L, trials=trials, rng=rng, metric="max"), q)
        for k in ks
    ]
    bound = [dkw_bound(n, int(k), L, delta) for k in ks]
    return TVResult(n, L, ks, delta, np.array(wo), np.array(wi), np.array(mx), np.array(bound))
