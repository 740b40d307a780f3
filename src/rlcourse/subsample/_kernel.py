"""Fast kernels behind SUBSAMPLE-Q: the next-count sampler and the sampled Bellman sweep.

Same contracts as the readable functions of :mod:`rlcourse.subsample.planning`
(:func:`~rlcourse.subsample.planning.sampled_bellman_update` is the equation as written;
:func:`bellman_sweep` here returns the same numbers), tuned for large tables:

* :func:`next_count_ranks` draws ``c^j = Σ_x Multinomial(c[x], P_l[x, s_g, .])`` either by
  conditional binomials per occupied state (cost independent of k) or by moving each of the
  k agents (inverse CDF) and counting where they land;
* :func:`bellman_sweep` stores ``V = max_a' Q`` once per sweep and gathers it in threaded
  chunks, reading side-by-side value rows when the global move is deterministic.

No validation here: the callers in ``planning`` validate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK_ROWS = 4096  # rows (s_g, c) per chunk of a sweep
FILL_ROWS = 4 * CHUNK_ROWS  # count vectors per chunk when V is filled
SWEEP_BUDGET = 1 << 16  # gathered values per chunk of a sweep
SMALL_SWEEP = 100_000  # entries × samples below which the plain gather is used
SAMPLE_BUDGET = 1 << 15  # next-count samples (row × j) per sampler chunk
AGENT_BUDGET = 1 << 17  # agent moves (row × j × agent) per sampler chunk
GLOBAL_BYTES = 18.0  # temporary bytes per next global state drawn (measured)
BINOMIAL_COST = 6.5  # one binomial draw, in units of one agent move (measured, queueing)


# ----------------------------------------------------------------------------- threads


def workers_for(workers: int | None) -> int:
    """Threads to use: ``workers`` or ``min(4, cores)``."""
    return max(1, min(4, os.cpu_count() or 1)) if workers is None else workers


def concurrent(workers: int, jobs: int) -> int:
    """Jobs :func:`run` keeps in flight at once."""
    return 1 if workers == 1 or jobs < 2 * workers else workers


def run(work: Callable, jobs: list, workers: int) -> None:
    """``work(job)`` for every job, on ``workers`` threads when there are enough jobs."""
    if concurrent(workers, len(jobs)) == 1:  # threads cost more than they save
        for job in jobs:
            work(job)
        return
    pool = _POOLS.get(workers)
    if pool is None:  # one pool per thread count, kept: starting threads costs ~0.1 ms each
        pool = _POOLS.setdefault(workers, ThreadPoolExecutor(workers, "rlcourse-subsample"))
    list(pool.map(work, jobs))


_POOLS: dict[int, ThreadPoolExecutor] = {}


# ----------------------------------------------------------------------------- inverse CDF


class InverseCDF:
    """Exact inverse-CDF sampling ``x = #{j : F[row, j] <= u}`` for float32 uniforms, in O(1)
    per draw: a guide table gives ``x`` at the left edge of u's bin (G bins), then a few
    vectorised corrections jump over the CDF values inside the bin."""

    G = 4096

    def __init__(self, cdf: np.ndarray) -> None:
        F = cdf.reshape(-1, cdf.shape[-1]).astype(np.float32)
        F[:, -1] = 1.0
        rows, K = F.shape
        G = self.G
        # guide[r, g] = #{j : F[r, j] <= g / G} = #{j : ceil(G F[r, j]) <= g} (G F is exact
        # in float32, G a power of two): a cumulative histogram of the first bins
        first = np.minimum(np.ceil(F * G), G).astype(np.int64) + (G + 1) * np.arange(rows)[:, None]
        hist = np.bincount(first.ravel(), minlength=rows * (G + 1)).reshape(rows, G + 1)
        self.guide = np.cumsum(hist[:, :G], axis=1).astype(np.int16).ravel()
        # jump[r, x]: first state whose CDF value exceeds F[r, x] (skips zero-probability states)
        later = F[:, None, :] > F[:, :, None]  # (r, x, j)
        self.jump = np.where(later.any(axis=2), later.argmax(axis=2), K - 1).astype(np.int16)
        self.jump = self.jump.ravel()
        self.F = F.ravel()
        self.K = K
        # corrections needed: the most distinct CDF values strictly inside one bin (a row is
        # non-decreasing, so a new value is one that differs from its left neighbour)
        new_value = np.ones_like(F, dtype=bool)
        new_value[:, 1:] = F[:, 1:] != F[:, :-1]
        inside = ((F * G) % 1 != 0) & new_value
        binid = np.floor(F * G).astype(np.int64) + G * np.arange(rows)[:, None]
        self.n_corr = int(np.bincount(binid[inside]).max()) if inside.any() else 0

    def __call__(self, row: np.ndarray, u: np.ndarray) -> np.ndarray:
        base = row * self.K
        x = self.guide[row * self.G + (u * self.G).astype(np.int32)]
        for _ in range(self.n_corr):  # at most a couple of corrections
            at = base + x
            x = np.where(self.F[at] <= u, self.jump[at], x)
        return x


# ----------------------------------------------------------------------------- next counts


def global_chunk_rows(S_g: int, A: int, m: int) -> int:
    """Count vectors per chunk when next global states are drawn (bounded draws)."""
    return max(1, min(CHUNK_ROWS, 4 * SAMPLE_BUDGET // (S_g * A * m)))


def sampler_method(P_l: np.ndarray, k: int) -> str:
    """``"binomial"`` or ``"agents"``, whichever costs less per sample: conditional binomials
    cost ``Σ_x (#targets of x − 1)`` draws over at most ``min(k, L)`` occupied states, moving
    the agents costs k draws plus ``min(k/2, L)`` comparisons per agent to count them."""
    L = P_l.shape[0]
    targets = (P_l > 0).any(axis=1).sum(axis=1)  # possible next states of each x
    draws = np.sort(targets - 1)[::-1][: min(k, L)].sum()
    agent_cost = k * (1.0 + (min(k, L) - 1.0) / 4.0)
    return "binomial" if BINOMIAL_COST * draws < agent_cost else "agents"


def sampler_chunk_rows(k: int, m: int, method: str) -> int:
    """Count vectors per sampler chunk (bounded number of samples or agent moves)."""
    budget = SAMPLE_BUDGET if method == "binomial" else AGENT_BUDGET // max(k, 1)
    return max(1, budget // m)


def sampler_chunk_bytes(k: int, L: int, N: int, m: int, method: str) -> float:
    """Peak temporary bytes of one sampler chunk of the code below (measured): int64 next
    counts (L per sample) and about five more int64 per sample for the draws and the ranking;
    or about 16 bytes per agent move (a float32 uniform and its inverse-CDF look-ups) plus
    the int64 cumulative counts (counting) or the rank (sorting)."""
    rows = min(N, sampler_chunk_rows(k, m, method))
    if method == "binomial":
        return rows * (m * 8.0 * (L + 5) + 8.0 * L)
    per_sample = 8.0 * (L + 2) if k >= L else 24.0
    return rows * (m * (16.0 * k + per_sample) + 12.0 * k)


def next_count_ranks(
    P_l: np.ndarray,
    cdf_l: np.ndarray,
    counts: np.ndarray,
    table: np.ndarray,
    S_g: int,
    m: int,
    rng: np.random.Generator,
    workers: int,
    method: str,
) -> np.ndarray:
    """Ranks of m next count vectors per ``(s_g, c)``: ``out[s_g, j, i] = rank(c^j)`` for
    ``c = counts[i]`` (int32, sample-major ``(S_g, m, N)``). Chunks of rows use child streams
    of ``rng`` (``rng.spawn``), so the result does not depend on ``workers``."""
    N, L = counts.shape
    k = int(counts[0].sum())
    out = np.empty((S_g, m, N), dtype=np.int32)
    B = sampler_chunk_rows(k, m, method)
    jobs = [(s, lo) for s in range(S_g) for lo in range(0, N, B)]
    streams = rng.spawn(len(jobs))
    flat, ncol = table.ravel(), table.shape[1]
    inverse = InverseCDF(cdf_l) if method == "agents" else None  # rows x * S_g + s_g
    network = [(i, i + 1) for r in range(k) for i in range(r % 2, k - 1, 2)] if k < L else []
    columns = [np.ascontiguousarray(table[:, i + 1]) for i in range(k)] if k < L else []

    def rank(P: list[np.ndarray]) -> np.ndarray:
        """``Σ_{x=1}^{L-1} C(x + P_x, x) − C(x + P_{x-1}, x)`` from cumulative counts P."""
        r = np.zeros(P[0].shape, dtype=np.int64)
        for x in range(1, L):
            r += flat[(P[x] + x) * ncol + x]
            r -= flat[(P[x - 1] + x) * ncol + x]
        return r

    def binomial(job: tuple[tuple[int, int], np.random.Generator]) -> None:
        (s, lo), g = job
        hi = min(lo + B, N)
        c = counts[lo:hi].astype(np.int64)  # (b, L)
        nxt = [np.zeros((m, hi - lo), dtype=np.int64) for _ in range(L)]
        for x in range(L):
            ys = np.flatnonzero(P_l[x, s] > 0)
            rest = np.broadcast_to(c[:, x], (m, hi - lo)).copy()  # agents of x not yet placed
            mass = 1.0
            for y in ys[:-1]:  # y | earlier targets ~ Binomial(rest, P[x, y] / mass)
                p = min(1.0, P_l[x, s, y] / mass) if mass > 0 else 0.0
                draw = g.binomial(rest, p)
                nxt[y] += draw
                rest -= draw
                mass -= P_l[x, s, y]
            nxt[ys[-1]] += rest
        for y in range(1, L):  # in place: nxt[y] becomes P_y = Σ_{z<=y} c'[z]
            nxt[y] += nxt[y - 1]
        out[s, :, lo:hi] = rank(nxt)

    def agents(job: tuple[tuple[int, int], np.random.Generator]) -> None:
        (s, lo), g = job
        hi = min(lo + B, N)
        a = np.repeat(np.tile(np.arange(L, dtype=np.int32), hi - lo), counts[lo:hi].ravel())
        row = (a.reshape(hi - lo, k).T * S_g + s)[:, None, :]  # (k, 1, b): row x * S_g + s
        x = inverse(row, g.random((k, m, hi - lo), dtype=np.float32))  # (k, m, b)
        if k < L:  # few agents: sort them (k^2/2 comparisons), rank Σ_i C(x_(i)' + i, i + 1)
            x = list(x)
            for p, q in network:
                x[p], x[q] = np.minimum(x[p], x[q]), np.maximum(x[p], x[q])
            r = np.zeros((m, hi - lo), dtype=np.int64)
            for i in range(k):
                r += columns[i][x[i] + i]  # C(x_(i)' + i, i + 1)
            out[s, :, lo:hi] = r
            return
        P = [np.zeros((m, hi - lo), dtype=np.int64) for _ in range(L - 1)]
        for xi in x:  # count them: P_y = #{i : x_i' <= y}, (L - 1) comparisons per agent
            for y in range(L - 1):
                P[y] += xi <= y
        P.append(np.full((m, hi - lo), k, dtype=np.int64))
        out[s, :, lo:hi] = rank(P)

    work = binomial if method == "binomial" else agents
    if S_g * N * m < SAMPLE_BUDGET:  # small: threads cost more than they save
        workers = 1
    run(work, list(zip(jobs, streams, strict=True)), workers)
    return out


# ----------------------------------------------------------------------------- sweep


def plain_sweep(Q, r_k, next_g, next_c, gamma, value_dtype):
    """The equation as written (small tables): ``r_k + γ mean_j V[s_g^j, c^j]``."""
    V = Q.max(axis=2).astype(value_dtype)  # V(s_g', c') = max_a' Q_t(s_g', c', a')
    EV = V[next_g, next_c[:, :, None, :]].mean(axis=-1, dtype=np.float64)  # (S_g, N, A)
    return r_k + gamma * EV


def deterministic_targets(next_g: np.ndarray) -> np.ndarray | None:
    """``t[s_g, a_g]`` when ``next_g`` is a view broadcast over count vectors and samples
    (a deterministic global move), else None."""
    if next_g.strides[1] == 0 and next_g.strides[3] == 0:
        return np.asarray(next_g[:, 0, :, 0], dtype=np.intp)
    return None


def side_width(D: int) -> int:
    """Width of a side-by-side row holding D values: D rounded up to a power of two."""
    return 1 << (D - 1).bit_length()


def sweep_bytes(
    S_g: int, N: int, A: int, m: int, *, deterministic_g: bool, value_dtype, workers: int
) -> float:
    """Bytes a sweep allocates besides Q and next states: ``Q_{t+1}``, V, the side-by-side
    tables (every s_g of a deterministic move, at most min(A, S_g) targets each) and the
    chunk temporaries of the running threads."""
    size = np.dtype(value_dtype).itemsize
    if S_g * N * A * m <= SMALL_SWEEP:
        return 8.0 * S_g * N * A * (2 + m) + size * S_g * N * (1 + A * m)
    out = 8.0 * S_g * N * A + size * S_g * N
    B = min(N, sweep_chunk_rows(A, m, deterministic_g))
    if deterministic_g:  # intp indices, gathered rows, their sum and its columns
        width = side_width(min(A, S_g))
        out += S_g * N * width * size
        temp = B * m * (8 + width * size) + B * (width + A) * 8
    else:  # int32 next_g, flat index (int32 and intp), gathered values, their sum
        temp = B * A * m * (16 + size) + B * A * 16
    return out + concurrent(workers, S_g * -(-N // B)) * temp


def sweep_chunk_rows(A: int, m: int, deterministic_g: bool) -> int:
    """Rows ``(s_g, c)`` per chunk of a sweep (a bounded number of gathered values)."""
    return max(1, min(CHUNK_ROWS, SWEEP_BUDGET // (m if deterministic_g else A * m)))


def bellman_sweep(
    Q: np.ndarray,
    r_k: np.ndarray,
    next_g: np.ndarray,
    next_c: np.ndarray,
    gamma: float,
    *,
    workers: int,
    value_dtype: type = np.float64,
) -> np.ndarray:
    """Same numbers as :func:`~rlcourse.subsample.planning.sampled_bellman_update`.

    The sweep is a random gather, bound by memory latency, so ``V = max_a' Q_t`` is stored
    once per sweep as rows ``V[s_g', c']`` of ``value_dtype`` (the sum over j is accumulated
    in float64). When the global move is deterministic (``next_g`` a broadcast view, as
    :func:`~rlcourse.subsample.planning.sample_next_globals` returns) the samples of one
    ``(s_g, a_g)`` all read the row ``V[s_g'(s_g, a_g)]``: the values of the distinct targets
    of one s_g sit side by side (``W[c', i] = V[target_i, c']``), read as one item per
    sample. Otherwise the flat index ``s_g^j N + c^j`` is gathered. Chunks of rows run on
    threads; ``next_c`` is fastest stored sample-major (``(S_g, m, N)`` transposed).
    """
    S_g, N, A = Q.shape
    m = next_c.shape[-1]
    if S_g * N * A * m <= SMALL_SWEEP:  # the equation as it reads; fastest for small tables
        return plain_sweep(Q, r_k, next_g, next_c, gamma, value_dtype)
    targets = deterministic_targets(next_g)
    out = np.empty_like(r_k)
    scale = gamma / m
    V = np.empty((S_g, N), dtype=value_dtype)  # V[s_g', c'] = max_a' Q_t(s_g', c', a')
    V_flat = V.ravel()
    if targets is not None:
        rows = [np.unique(t, return_inverse=True) for t in targets]  # distinct s_g' per s_g
        W = [_side_by_side(len(uniq), N, V.dtype) for uniq, _ in rows]

    def fill(lo: int) -> None:  # V (and W) for the count vectors lo:hi
        hi = min(lo + FILL_ROWS, N)
        V[:, lo:hi] = _max_over_actions(Q[:, lo:hi])
        if targets is not None:
            for (uniq, _), (_, both) in zip(rows, W, strict=True):  # |S_g| tables
                both[lo:hi, : len(uniq)] = V[uniq, lo:hi].T

    run(fill, list(range(0, N, FILL_ROWS)), workers)
    B = sweep_chunk_rows(A, m, targets is not None)
    jobs = [(s, lo) for s in range(S_g) for lo in range(0, N, B)]

    if targets is not None:

        def work(job: tuple[int, int]) -> None:
            s, lo = job
            hi = min(lo + B, N)
            idx = next_c[s, lo:hi].T  # (m, B): the sum over j runs down columns (fast)
            uniq, inv = rows[s]
            items, both = W[s]
            width = both.shape[1]
            G = np.take(items, idx).view(V.dtype).reshape(m, hi - lo, width)
            EV = np.sum(G, axis=0, dtype=np.float64)  # (B, width)
            np.multiply(EV[:, inv], scale, out=out[s, lo:hi])
            out[s, lo:hi] += r_k[s, lo:hi]

    else:

        def work(job: tuple[int, int]) -> None:
            s, lo = job
            hi = min(lo + B, N)
            g = next_g[s, lo:hi].transpose(1, 2, 0).astype(np.int32)  # (A, m, B)
            flat = g * N + next_c[s, lo:hi].T  # index of (s_g^j, c^j) in V, (A, m, B)
            EV = np.sum(V_flat[flat], axis=1, dtype=np.float64)  # (A, B)
            out[s, lo:hi] = r_k[s, lo:hi] + scale * EV.T

    run(work, jobs, workers)
    return out


def _side_by_side(D: int, N: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """A zero ``(N, width)`` table ``both`` and the same memory as ``items[N]``, one item of
    ``width * itemsize`` bytes per row, so that a single gather fetches the D values a sample
    needs (filled in by the caller)."""
    size = np.dtype(dtype).itemsize
    width = side_width(D)
    if width * size > 16:  # no wider NumPy scalar: one structured item
        item = np.dtype((np.void, width * size))
    else:
        item = {4: np.float32, 8: np.float64, 16: np.complex128}[width * size]
    both = np.zeros((N, width), dtype=dtype)
    return both.view(item).reshape(N), both


def _max_over_actions(Q: np.ndarray) -> np.ndarray:
    """``max_a Q[..., a]`` as |A| - 1 element-wise maxima (a reduction over a short last axis
    is several times slower)."""
    V = Q[..., 0].copy()
    for a in range(1, Q.shape[-1]):  # a handful of actions
        np.maximum(V, Q[..., a], out=V)
    return V
