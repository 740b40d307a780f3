"""Benchmarks of SUBSAMPLE-Q (prints measured figures; no assertions).

    python benchmarks/bench_subsample.py [--kmax 7] [--workers N]

1. Demand response, n = 8, m = 10, T = 20 sweeps: learning time (sampling + sweeps), sampled
   backups per second and peak traced memory for each k.
2. One sweep against the raw NumPy gather of the same entries (same indices, same chunks),
   both single-threaded, and against a per-entry Python loop (k <= 3).
3. Queueing, n = 50: exact mean-field value iteration at k = n.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

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


def raw_gather(V, flat):
    """The gather alone: the same flat indices, in the same chunks, single-threaded."""
    rows = flat.shape[0]
    for lo in range(0, rows, CHUNK_ROWS):
        V[flat[lo : lo + CHUNK_ROWS]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kmax", type=int, default=7)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    mdp = envs.demand_response()
    m, T, gamma = 10, 20, mdp.gamma
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(f"\n== demand response, n = 8, m = {m}, T = {T} sweeps ==")
    print(
        f"{'k':>2} {'entries':>10} {'learn s':>8} {'sample s':>8} {'sweeps s':>8} "
        f"{'backups/s':>10} {'peak MB':>8} {'published s':>11}"
    )
    for k in range(1, args.kmax + 1):
        tracemalloc.start()
        t0 = time.perf_counter()
        res = subsample_q(mdp, k, m=m, T=T, rng=0, workers=args.workers)
        learn = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        # the two phases separately
        space = res.space
        t0 = time.perf_counter()
        next_c = sample_next_counts(mdp, space, m, 0, workers=args.workers)
        t_sample = time.perf_counter() - t0
        next_g = sample_next_globals(mdp, space.size, m, 1)
        r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
        Q = res.q
        t0 = time.perf_counter()
        sampled_bellman_update(Q, r_k, next_g, next_c, gamma, workers=args.workers, check=False)
        t_sweep = time.perf_counter() - t0
        backups = res.q.size * m / t_sweep
        pub = PUBLISHED.get(k, "")
        print(
            f"{k:>2} {res.q.size:>10} {learn:>8.2f} {t_sample:>8.2f} {t_sweep * (T - 1):>8.2f} "
            f"{backups:>10.3g} {peak:>8.0f} {pub!s:>11}",
            flush=True,
        )
        if k == min(args.kmax, 7) or k <= 3:
            # one sweep vs the raw gather of the same entries (both single-threaded)
            S_g = Q.shape[0]
            V = np.ascontiguousarray(Q.max(axis=2).T).ravel()
            flat = (next_c[:, :, None, :] * S_g + next_g).reshape(-1, *next_g.shape[2:])
            t0 = time.perf_counter()
            raw_gather(V, flat)
            t_raw = time.perf_counter() - t0
            t0 = time.perf_counter()
            sampled_bellman_update(Q, r_k, next_g, next_c, gamma, workers=1, check=False)
            t_one = time.perf_counter() - t0
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
            t0 = time.perf_counter()
            new = sampled_bellman_update(Q, r_k, next_g, next_c, gamma, workers=1, check=False)
            t_vec = time.perf_counter() - t0
            assert np.allclose(ref, new)
            print(
                f"   k={k}: per-entry Python loop {t_loop:.3f} s vs vectorised {t_vec:.4f} s "
                f"-> {t_loop / t_vec:.0f}x faster",
                flush=True,
            )
        del res, next_c, next_g, r_k, Q

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
