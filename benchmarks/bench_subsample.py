"""Benchmarks of SUBSAMPLE-Q (prints measured figures; no assertions).

    python benchmarks/bench_subsample.py [--only SECTION ...] [--kmax 7] [--workers N]

Sections (all by default):

* ``queueing``: L = 3, k = 20..320, m = 10, T = 20: learning time, the next-count sampler
  and, in the same run, the previous sampler (agents moved by inverse CDF and sorted by an
  odd-even network, kept below as ``old_sample_next_counts``; timed on a subset of rows and
  scaled, one thread each); fitted exponents of time against k.
* ``memory``: ``estimate_bytes`` against the traced peak (tracemalloc) of ``subsample_q``
  over a grid of (system, k, L, m).
* ``threads``: one sweep and the sampler with 1 and 2 threads, value table in float64 and
  float32; the fixed cost of a learning call (k = 1, T = 1) and whole calls at k = 1, 2.
* ``demand``: demand response, n = 8, m = 10, T = 20: learning time per k against the
  published times; one sweep against the raw gather of the same entries and against a
  per-entry Python loop (k <= 3); exact mean-field value iteration on queueing at k = n = 50.

The machine is shared: figures measured in one run are comparable with each other, not
with another run.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from functools import partial

import numpy as np
from _timing import best_of

from rlcourse.subsample import (
    CountSpace,
    GlobalLocalMDP,
    _kernel,
    count_kernel,
    envs,
    sample_next_counts,
    sample_next_globals,
    sampled_bellman_update,
    solve_mean_field,
    subsample_q,
    subsample_q_bytes,
    subsystem_reward,
)

PUBLISHED = {3: 15, 4: 54, 5: 161, 6: 390, 7: 843}


def slope(k, t) -> float:
    """Least-squares exponent p of ``t ∝ k^p``."""
    return float(np.polyfit(np.log(k), np.log(t), 1)[0])


# ----------------------------------------------------------------------------- old sampler


def old_sample_next_counts(
    mdp: GlobalLocalMDP, space: CountSpace, m: int, rng, rows: int
) -> np.ndarray:
    """The previous sampler, kept as a reference: every agent of ``c`` draws its next state
    by inverse CDF, the k next states of each sample are sorted by an odd-even transposition
    network (k^2/2 comparators) and ranked with ``Σ_i C(x_(i)' + i, i + 1)``. Runs the first
    ``rows`` count vectors of every s_g (one thread, chunks of 16384 rows)."""
    S_g, k = mdp.n_global, space.k
    agents = space.agents[:rows]
    sampler = _kernel.InverseCDF(mdp.cdf_l)
    network = [(i, i + 1) for r in range(k) for i in range(r % 2, k - 1, 2)]
    col_tables = [np.ascontiguousarray(space.table[:, j + 1]) for j in range(k)]
    out = np.empty((S_g * rows, m), dtype=np.int32)
    for lo in range(0, S_g * rows, 16384):
        hi = min(lo + 16384, S_g * rows)
        s = np.arange(lo, hi) // rows
        a = agents[np.arange(lo, hi) % rows]
        row = (a.T.astype(np.int32) * S_g + s.astype(np.int32))[:, :, None]
        x = list(sampler(row, rng.random((k, hi - lo, m), dtype=np.float32)))
        for p, q in network:
            x[p], x[q] = np.minimum(x[p], x[q]), np.maximum(x[p], x[q])
        rank = np.zeros((hi - lo, m), dtype=np.int64)
        for j in range(k):
            rank += col_tables[j][x[j] + j]
        out[lo:hi] = rank
    return out.reshape(S_g, rows, m)


def bench_queueing(workers) -> None:
    q = envs.queueing()
    m, T = 10, 20
    ks = [20, 40, 80, 160, 320]
    print(f"\n== queueing (L = 3, |S_g| = 4, |A| = 3), m = {m}, T = {T} ==")
    print(
        f"{'k':>4} {'N':>7} {'learn s':>8} {'sampler s':>9} {'method':>8} "
        f"{'old sampler s':>13} {'old/new':>7} {'sweep ms':>8}"
    )
    learn, new, old = [], [], []
    for k in ks:
        space = CountSpace(k, 3)
        N = space.size
        t_learn = best_of(lambda k=k: subsample_q(q, k, m=m, T=T, rng=0, workers=workers), 2)
        t_new = best_of(partial(sample_next_counts, q, space, m, 0, workers=1), 2)
        rows = min(N, max(16, int(1e9 / (k * k * m))))
        t0 = time.perf_counter()
        old_sample_next_counts(q, space, m, np.random.default_rng(0), rows)
        t_old = (time.perf_counter() - t0) * N / rows
        next_c = sample_next_counts(q, space, m, 0)
        next_g = sample_next_globals(q, N, m, 1)
        r_k = subsystem_reward(q.r_g, q.r_l, space.counts)
        sweep = partial(
            _kernel.bellman_sweep, r_k, r_k, next_g, next_c, q.gamma, workers=1
        )  # Q = r_k
        t_sweep = best_of(sweep, 3)
        learn.append(t_learn)
        new.append(t_new)
        old.append(t_old)
        scaled = "" if rows == N else f" ({rows} rows)"
        print(
            f"{k:>4} {N:>7} {t_learn:>8.3f} {t_new:>9.3f} "
            f"{_kernel.sampler_method(q.P_l, k):>8} {t_old:>13.2f} {t_old / t_new:>7.0f} "
            f"{t_sweep * 1e3:>8.1f}{scaled}",
            flush=True,
        )
    print(
        f"fitted exponent of time in k: learning {slope(ks, learn):.2f}, sampler "
        f"{slope(ks, new):.2f}, old sampler {slope(ks, old):.2f} "
        f"(table size N ∝ k^2; goal for learning <= 2.3)"
    )


# ----------------------------------------------------------------------------- memory


def bench_memory() -> None:
    grid = [
        ("queueing", envs.queueing(), 150, 5),
        ("queueing", envs.queueing(), 320, 20),
        ("queueing", envs.queueing(), 600, 10),
        ("queueing", envs.queueing(), 40, 200),
        ("random", envs.random_mdp(3, 3, 2, rng=1), 2000, 50),
        ("random", envs.random_mdp(3, 3, 5, rng=1), 22, 8),
        ("random", envs.random_mdp(3, 3, 8, rng=1), 11, 6),
        ("random", envs.random_mdp(3, 3, 10, rng=1), 7, 10),
        ("demand", envs.demand_response(), 4, 30),
        ("demand", envs.demand_response(), 5, 10),
    ]
    print("\n== memory: estimate_bytes vs traced peak of subsample_q (T = 3) ==")
    print(
        f"{'system':>8} {'L':>3} {'k':>5} {'m':>4} {'thr':>3} {'estimate MB':>11} "
        f"{'peak MB':>8} {'peak/est':>8}"
    )
    ratios = []
    for name, mdp, k, m in grid:
        for workers in (1, 2):
            est = subsample_q_bytes(mdp, k, m, workers=workers)
            tracemalloc.start()
            subsample_q(mdp, k, m=m, T=3, rng=0, workers=workers)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            ratios.append(peak / est)
            print(
                f"{name:>8} {mdp.L:>3} {k:>5} {m:>4} {workers:>3} {est / 1e6:>11.1f} "
                f"{peak / 1e6:>8.1f} {peak / est:>8.2f}",
                flush=True,
            )
    print(f"peak/estimate over the grid: {min(ratios):.2f} .. {max(ratios):.2f}")
    for mdp, k, label in [
        (envs.random_mdp(5, 3, 10, rng=0), 21, "L = 10, k = 21"),
        (envs.queueing(), 5421, "L = 3, k = 5421"),
    ]:
        t0 = time.perf_counter()
        try:
            subsample_q(mdp, k, m=10, T=5, rng=0)
            msg = "accepted"
        except ValueError as exc:
            msg = str(exc)
        print(f"{label}: refused in {(time.perf_counter() - t0) * 1e3:.1f} ms: {msg}")


# ----------------------------------------------------------------------------- threads


def timed(fn, repeat: int) -> tuple[float, float]:
    """Best wall time of ``repeat`` calls and the process CPU time of that call (all
    threads): CPU/wall above 1 means more than one core worked at once."""
    best = (np.inf, 0.0)
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def bench_threads() -> None:
    print("\n== threads: one sweep and the sampler, 1 vs 2 threads (best of 3) ==")
    print(
        f"{'system':>16} {'entries':>9} {'what':>8} {'1 thread s':>10} {'2 threads s':>11} "
        f"{'speed-up':>8} {'CPU/wall (2)':>12}"
    )
    for name, mdp, k in [
        ("demand, k=5", envs.demand_response(), 5),
        ("queueing, k=320", envs.queueing(), 320),
        ("random L=4, k=40", envs.random_mdp(4, 3, 4, rng=0), 40),
    ]:
        space = CountSpace(k, mdp.L)
        next_c = sample_next_counts(mdp, space, 10, 0)
        next_g = sample_next_globals(mdp, space.size, 10, 1)
        r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
        sweep = partial(_kernel.bellman_sweep, r_k, r_k, next_g, next_c, mdp.gamma)
        cases = [
            (f"V {np.dtype(dtype).name}", partial(sweep, value_dtype=dtype))
            for dtype in (np.float64, np.float32)
        ]
        cases.append(("sampler", partial(sample_next_counts, mdp, space, 10, 0)))
        for what, fn in cases:
            (t1, _), (t2, c2) = (timed(partial(fn, workers=w), 3) for w in (1, 2))
            print(
                f"{name:>16} {r_k.size:>9} {what:>8} {t1:>10.3f} {t2:>11.3f} "
                f"{t1 / t2:>8.2f} {c2 / t2:>12.2f}",
                flush=True,
            )
    dr = envs.demand_response()
    setup = best_of(lambda: subsample_q(dr, 1, m=10, T=1, rng=0), 20)
    calls = [best_of(lambda k=k: subsample_q(dr, k, m=10, T=20, rng=0), 20) for k in (1, 2)]
    print(
        f"fixed cost of a learning call (demand response, k = 1, T = 1): {setup * 1e3:.1f} ms; "
        f"whole call m = 10, T = 20: k = 1 {calls[0] * 1e3:.1f} ms, k = 2 {calls[1] * 1e3:.1f} ms"
    )


# ----------------------------------------------------------------------------- demand response


def loop_update(Q, r_k, next_g, next_c, gamma):
    """Straightforward per-entry implementation of the sampled Bellman update."""
    S_g, N, A = Q.shape
    m = next_c.shape[-1]
    out = np.empty_like(Q)
    for s in range(S_g):
        for c in range(N):
            for a in range(A):
                tot = 0.0
                for j in range(m):
                    tot += max(Q[next_g[s, c, a, j], next_c[s, c, j]])
                out[s, c, a] = r_k[s, c, a] + gamma * tot / m
    return out


def raw_gather(V, flat, rows):
    """The gather alone: one value per (s_g, c, a_g, j) from precomputed flat indices, in
    chunks of ``rows`` rows, single-threaded."""
    for lo in range(0, flat.shape[0], rows):
        V.take(flat[lo : lo + rows])


def bench_demand(kmax: int, workers) -> None:
    mdp = envs.demand_response()
    m, T, gamma = 10, 20, mdp.gamma
    print(f"\n== demand response, n = 8, m = {m}, T = {T} sweeps ==")
    print(
        f"{'k':>2} {'entries':>10} {'learn s':>8} {'sample s':>8} {'sweeps s':>8} "
        f"{'backups/s':>10} {'peak MB':>8} {'published s':>11}"
    )
    for k in range(1, kmax + 1):
        tracemalloc.start()
        t0 = time.perf_counter()
        res = subsample_q(mdp, k, m=m, T=T, rng=0, workers=workers)
        learn_s = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        space, Q = res.space, res.q
        t0 = time.perf_counter()
        next_c = sample_next_counts(mdp, space, m, 0, workers=workers)
        t_sample = time.perf_counter() - t0
        next_g = sample_next_globals(mdp, space.size, m, 1)
        r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
        w = _kernel.workers_for(workers)
        t_sweep = best_of(
            partial(_kernel.bellman_sweep, Q, r_k, next_g, next_c, gamma, workers=w), 1
        )
        pub = PUBLISHED.get(k, "")
        print(
            f"{k:>2} {Q.size:>10} {learn_s:>8.2f} {t_sample:>8.2f} {t_sweep * (T - 1):>8.2f} "
            f"{Q.size * m * T / learn_s:>10.3g} {peak:>8.0f} {pub!s:>11}",
            flush=True,
        )
        if k <= 3 or k == min(kmax, 7):
            N = Q.shape[1]
            V = Q.max(axis=2).ravel()
            flat = (next_g.astype(np.int32) * N + next_c[:, :, None, :]).reshape(
                -1, *next_g.shape[2:]
            )
            reps = 20 if k <= 3 else 1
            t_raw = best_of(partial(raw_gather, V, flat, _kernel.CHUNK_ROWS), reps)
            t_one = best_of(
                partial(_kernel.bellman_sweep, Q, r_k, next_g, next_c, gamma, workers=1), reps
            )
            print(
                f"   k={k}: sweep {t_one:.4f} s (1 thread) vs raw gather {t_raw:.4f} s "
                f"-> ratio {t_one / t_raw:.2f}x",
                flush=True,
            )
        if k <= 3:
            t0 = time.perf_counter()
            ref = loop_update(Q, r_k, next_g, next_c, gamma)
            t_loop = time.perf_counter() - t0
            t_eq = best_of(partial(sampled_bellman_update, Q, r_k, next_g, next_c, gamma), 20)
            assert np.allclose(ref, sampled_bellman_update(Q, r_k, next_g, next_c, gamma))
            print(
                f"   k={k}: per-entry Python loop {t_loop:.3f} s vs the readable update "
                f"{t_eq * 1e3:.3f} ms (best of 20) -> {t_loop / t_eq:.0f}x faster",
                flush=True,
            )
        del res, next_c, next_g, r_k, Q
    print("\n== queueing, n = 50: exact mean-field value iteration at k = n ==")
    q = envs.queueing()
    t_kernel = best_of(partial(count_kernel, q.P_l, 50), 3)
    n_counts = CountSpace(50, q.L).size
    print(f"next-count kernel K at k = 50 ({q.P_g.shape[0]} x {n_counts}^2): {t_kernel:.2f} s")
    t0 = time.perf_counter()
    res = solve_mean_field(q, 50)
    print(
        f"k = n = 50: {CountSpace(50, q.L).size} count vectors, {res.sweeps} sweeps, "
        f"{time.perf_counter() - t0:.2f} s; greedy policy uses {len(np.unique(res.policy))} "
        "actions"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--only",
        nargs="*",
        default=["queueing", "memory", "threads", "demand"],
        choices=["queueing", "memory", "threads", "demand"],
    )
    ap.add_argument("--kmax", type=int, default=7, help="largest k of the demand section")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, shared; load average {os.getloadavg()} at start")
    if "queueing" in args.only:
        bench_queueing(args.workers)
    if "memory" in args.only:
        bench_memory()
    if "threads" in args.only:
        bench_threads()
    if "demand" in args.only:
        bench_demand(args.kmax, args.workers)
    print(f"load average {os.getloadavg()} at the end")


if __name__ == "__main__":
    main()
