"""Benchmarks of SUBSAMPLE-Q (prints measured figures; no assertions).

    python benchmarks/bench_subsample.py [--kmax 7] [--workers N] [--float32]

1. Demand response, n = 8, m = 10, T = 20 sweeps: learning time (sampling + sweeps), sampled
   backups per second and peak traced memory for each k (value table in float64, or float32
   with --float32; at k = kmax the other precision is timed too).
2. One sweep against the raw NumPy gather of the same entries V[s_g^j, c^j] for every
   (s_g, c, a_g, j) (precomputed flat indices, same chunks), both single-threaded, and
   against a per-entry Python loop (k <= 3).
3. Queueing, n = 50: exact mean-field value iteration at k = n.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from functools import partial

import numpy as np

from rlcourse.subsample import (
    CountSpace,
    envs,
    sample_next_counts,
    sample_next_globals,
    sampled_bellman_update,
    solve_mean_field,
    subsample_q,
    subsystem_reward,
)
from rlcourse.subsample.planning import CHUNK_ROWS

PUBLISHED = {3: 15, 4: 54, 5: 161, 6: 390, 7: 843}


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


def best_of(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn()`` (one call when a call is long)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def raw_gather(V, flat):
    """The gather alone: one value per (s_g, c, a_g, j) from precomputed flat indices, in
    chunks of CHUNK_ROWS rows, single-threaded."""
    rows = flat.shape[0]
    for lo in range(0, rows, CHUNK_ROWS):
        V.take(flat[lo : lo + CHUNK_ROWS])


def learn(mdp, k, m, T, workers, dtype):
    """subsample_q with its peak traced memory."""
    tracemalloc.start()
    t0 = time.perf_counter()
    res = subsample_q(mdp, k, m=m, T=T, rng=0, workers=workers, value_dtype=dtype)
    learn_s = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return res, learn_s, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kmax", type=int, default=7)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--float32", action="store_true", help="float32 value table in the sweeps")
    args = ap.parse_args()
    dtype, other = (np.float32, np.float64) if args.float32 else (np.float64, np.float32)
    mdp = envs.demand_response()
    m, T, gamma = 10, 20, mdp.gamma
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()} at start")
    print(f"\n== demand response, n = 8, m = {m}, T = {T} sweeps, V in {dtype.__name__} ==")
    print(
        f"{'k':>2} {'entries':>10} {'learn s':>8} {'sample s':>8} {'sweeps s':>8} "
        f"{'backups/s':>10} {'peak MB':>8} {'published s':>11}"
    )
    for k in range(1, args.kmax + 1):
        res, learn_s, peak = learn(mdp, k, m, T, args.workers, dtype)
        # the two phases separately
        space = res.space
        t0 = time.perf_counter()
        next_c = sample_next_counts(mdp, space, m, 0, workers=args.workers)
        next_c = np.ascontiguousarray(next_c.transpose(0, 2, 1)).transpose(0, 2, 1)
        t_sample = time.perf_counter() - t0
        next_g = sample_next_globals(mdp, space.size, m, 1)
        r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
        Q = res.q
        t0 = time.perf_counter()
        kw = dict(workers=args.workers, check=False, value_dtype=dtype)
        sampled_bellman_update(Q, r_k, next_g, next_c, gamma, **kw)
        t_sweep = time.perf_counter() - t0
        backups = res.q.size * m * T / learn_s
        pub = PUBLISHED.get(k, "")
        print(
            f"{k:>2} {res.q.size:>10} {learn_s:>8.2f} {t_sample:>8.2f} {t_sweep * (T - 1):>8.2f} "
            f"{backups:>10.3g} {peak:>8.0f} {pub!s:>11}",
            flush=True,
        )
        if k == args.kmax:
            del res
            res2, learn2, peak2 = learn(mdp, k, m, T, args.workers, other)
            print(
                f"   k={k} with V in {other.__name__}: learn {learn2:.2f} s, peak {peak2:.0f} MB",
                flush=True,
            )
            res = res2
        if k == min(args.kmax, 7) or k <= 3:
            # one sweep vs the raw gather of the same entries (both single-threaded)
            N = Q.shape[1]
            V = Q.max(axis=2).astype(dtype).ravel()  # V[s_g' * N + c']
            flat = (next_g.astype(np.int32) * N + next_c[:, :, None, :]).reshape(
                -1, *next_g.shape[2:]
            )
            reps = 20 if k <= 3 else 1  # sub-millisecond calls: best of 20
            t_raw = best_of(partial(raw_gather, V, flat), reps)
            kw1 = {**kw, "workers": 1}
            t_one = best_of(
                partial(sampled_bellman_update, Q, r_k, next_g, next_c, gamma, **kw1), reps
            )
            print(
                f"   k={k}: sweep {t_one:.3f} s (1 thread) vs raw gather {t_raw:.3f} s "
                f"-> ratio {t_one / t_raw:.2f}x; sweep with threads {t_sweep:.3f} s",
                flush=True,
            )
            del flat
        if k <= 3:
            t0 = time.perf_counter()
            ref = loop_update(Q, r_k, next_g, next_c, gamma)
            t_loop = time.perf_counter() - t0
            new = sampled_bellman_update(Q, r_k, next_g, next_c, gamma, **{**kw, "workers": 1})
            t_vec = best_of(
                partial(sampled_bellman_update, Q, r_k, next_g, next_c, gamma, **kw1), 20
            )
            assert np.allclose(ref, new, rtol=1e-6)
            print(
                f"   k={k}: per-entry Python loop {t_loop:.3f} s vs vectorised "
                f"{t_vec * 1e3:.3f} ms (best of 20) "
                f"-> {t_loop / t_vec:.0f}x faster",
                flush=True,
            )
        del res, next_c, next_g, r_k, Q

    print(f"load average {os.getloadavg()} after demand response")
    print("\n== queueing, n = 50: exact mean-field value iteration at k = n ==")
    q = envs.queueing()
    t0 = time.perf_counter()
    res = solve_mean_field(q, 50)
    t = time.perf_counter() - t0
    print(
        f"k = n = 50: {CountSpace(50, q.L).size} count vectors, {res.sweeps} sweeps, "
        f"{t:.2f} s; greedy policy uses {len(np.unique(res.policy))} actions"
    )


if __name__ == "__main__":
    main()
