"""Planning and learning on the k-agent surrogate system (Algorithm 1 of SUBSAMPLE-Q).

Q-functions live on ``(s_g, c, a_g)`` with ``c`` a count vector of k agents
(``CountSpace(k, L)``), as arrays ``Q[s_g, index(c), a_g]``.

* exact (m = ∞) mean-field value iteration: :func:`solve_mean_field`;
* SUBSAMPLE-Q with m samples drawn once: :func:`subsample_q`, whose Bellman update is
  :func:`sampled_bellman_update`;
* brute force over ordered tuples: :func:`solve_raw_tuples` (k agents) and :func:`solve_full`
  (the real n-agent system).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import comb

import numpy as np

from rlcourse._validate import as_array, check_int, check_open_interval, check_positive, make_rng
from rlcourse.subsample.counts import CountSpace, counts_from_states
from rlcourse.subsample.model import GlobalLocalMDP, sample_categorical

__all__ = [
    "GlobalPolicyCertificate",
    "QResult",
    "TupleResult",
    "certify_global_policy",
    "count_kernel",
    "estimate_bytes",
    "mean_field_bellman_update",
    "next_counts_from_uniforms",
    "sample_next_counts",
    "sample_next_globals",
    "sampled_bellman_update",
    "solve_full",
    "solve_mean_field",
    "solve_raw_tuples",
    "subsample_q",
    "subsystem_reward",
]

CHUNK_ROWS = 4096  # rows (s_g, c) per chunk of a sweep
SMALL_SWEEP = 100_000  # entries × samples below which the plain gather is used
SAMPLE_ROWS = 16384  # rows per chunk of the next-count sampler (one child stream each)


@dataclass(frozen=True)
class QResult:
    """A Q-function on the k-agent count space: ``q[s_g, index(c), a_g]``."""

    q: np.ndarray
    space: CountSpace
    m: int | None  # samples per entry; None for the exact operator
    sweeps: int
    method: str

    @property
    def k(self) -> int:
        return self.space.k

    @property
    def policy(self) -> np.ndarray:
        """Greedy deterministic policy ``π_k(s_g, c) = argmax_a Q(s_g, c, a)``, shape
        ``(|S_g|, size)``."""
        return self.q.argmax(axis=2)

    @property
    def v(self) -> np.ndarray:
        """``max_a Q(s_g, c, a)``, shape ``(|S_g|, size)``."""
        return self.q.max(axis=2)


@dataclass(frozen=True)
class TupleResult:
    """A Q-function on ordered tuples of k local states: ``q[s_g, t, a_g]`` with
    ``t = Σ_i s_i L^(k-1-i)`` (row-major over ``(s_1, ..., s_k)``)."""

    q: np.ndarray
    k: int
    L: int
    sweeps: int
    method: str

    @property
    def states(self) -> np.ndarray:
        """``(L^k, k)`` local states of each tuple index."""
        return np.indices((self.L,) * self.k).reshape(self.k, -1).T

    @property
    def policy(self) -> np.ndarray:
        return self.q.argmax(axis=2)


# ----------------------------------------------------------------------------- rewards


def subsystem_reward(r_g: np.ndarray, r_l: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``r_k(s_g, c, a_g) = r_g(s_g, a_g) + (1/k) Σ_x c[x] r_l(x, s_g)``.

    ``r_g[S_g, A_g]``, ``r_l[L, S_g]``, ``counts[N, L]`` (rows summing to k >= 1) ->
    ``(S_g, N, A_g)``.
    """
    r_g = as_array("r_g", r_g, ndim=2)
    r_l = as_array("r_l", r_l, shape=(None, r_g.shape[0]))
    counts = as_array("counts", counts, shape=(None, r_l.shape[0]))
    k = counts.sum(axis=1)
    if counts.shape[0] == 0 or np.any(counts < 0) or np.any(k != k[0]) or k[0] <= 0:
        raise ValueError("counts: expected non-negative count vectors with one common sum k >= 1")
    mean_l = counts.astype(float) @ r_l / k[0]  # (N, S_g)
    return r_g[:, None, :] + mean_l.T[:, :, None]


# ----------------------------------------------------------------------------- exact operator


def count_kernel(P_l: np.ndarray, k: int, *, max_bytes: float = 2e9) -> np.ndarray:
    """Next-count law ``K[s_g, c, c'] = P(Σ_x Multinomial(c[x], P_l[x, s_g, .]) = c')``.

    Built one agent at a time: for ``c`` with smallest occupied state x,
    ``K_k[c, c' + e_y] += P_l[x, s_g, y] K_{k-1}[c - e_x, c']`` (the probability generating
    function of c' is ``Π_x (Σ_y P_l[x, s_g, y] z_y)^{c[x]}``). Returns ``(S_g, N, N)`` in the
    rank order of ``CountSpace(k, L)``; refuses when the dense kernel exceeds ``max_bytes``.
    """
    P_l = as_array("P_l", P_l, ndim=3)
    L, S_g = P_l.shape[0], P_l.shape[1]
    k = check_int("k", k, low=0)
    N = comb(k + L - 1, L - 1)
    need = 8.0 * S_g * N * N
    if need > max_bytes:
        raise ValueError(
            f"k: the exact next-count kernel for k={k}, L={L} has |S_g| N^2 = {S_g}*{N}^2 "
            f"entries ({need / 1e9:.3g} GB > max_bytes={max_bytes / 1e9:.3g} GB); "
            "use subsample_q (sampled operator) or a smaller k"
        )
    K = np.ones((S_g, 1, 1))
    prev = CountSpace(0, L)
    for j in range(1, k + 1):  # one agent more per level
        space = CountSpace(j, L)
        x = space.agents[:, 0].astype(np.intp)  # smallest occupied state of each c
        parent = prev.index(space.counts - np.eye(L, dtype=np.int64)[x])  # index of c - e_x
        K_parent = K[:, parent, :]  # (S_g, N_j, N_{j-1}): K_{j-1}[c - e_x, c']
        w = P_l[x].transpose(1, 0, 2)[:, :, :, None]  # (S_g, N_j, L, 1): P_l[x, s_g, y]
        K_new = np.zeros((S_g, space.size, space.size))
        for y in range(L):  # the moved agent lands on y
            up = space.index(prev.counts + np.eye(L, dtype=np.int64)[y])  # c' + e_y
            K_new[:, :, up] += w[:, :, y] * K_parent
        K, prev = K_new, space
    return K


def mean_field_bellman_update(
    Q: np.ndarray, r_k: np.ndarray, K: np.ndarray, P_g: np.ndarray, gamma: float
) -> np.ndarray:
    """Exact operator: ``Q'(s_g,c,a) = r_k + γ Σ_{s_g'} P_g[s_g,a,s_g'] Σ_{c'} K[s_g,c,c']
    max_a' Q(s_g',c',a')``. Shapes ``Q, r_k: (S_g, N, A)``, ``K: (S_g, N, N)``."""
    S_g, N, _ = Q.shape
    V = Q.max(axis=2)  # (S_g', N)
    EV = (K.reshape(S_g * N, N) @ V.T).reshape(S_g, N, S_g)  # Σ_c' K[s_g, c, c'] V[s_g', c']
    return r_k + gamma * np.einsum("gas,gcs->gca", P_g, EV)


def solve_mean_field(
    mdp: GlobalLocalMDP,
    k: int,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    max_bytes: float = 2e9,
) -> QResult:
    """Value iteration with the exact operator on the k-agent count space, from ``Q_0 = 0``
    until ``||Q_{t+1} - Q_t||_∞ <= tol``. With ``k = n`` this is the optimal Q of the full
    n-agent system (mean-field value iteration). Refuses when the kernel would not fit."""
    _check_mdp(mdp)
    k = check_int("k", k, low=1)
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    K = count_kernel(mdp.P_l, k, max_bytes=max_bytes)
    space = CountSpace(k, mdp.L)
    r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    Q = np.zeros_like(r_k)
    for it in range(1, max_iter + 1):  # noqa: B007 (it is the sweep count)
        Q_new = mean_field_bellman_update(Q, r_k, K, mdp.P_g, mdp.gamma)
        done = np.max(np.abs(Q_new - Q)) <= tol
        Q = Q_new
        if done:
            break
    return QResult(Q, space, None, it, "mean_field")


# ----------------------------------------------------------------------------- sampling


def next_counts_from_uniforms(
    P_l: np.ndarray, agents: np.ndarray, s_g: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Next count vectors by inverse-CDF sampling of every agent (reference version).

    ``agents[R, k]`` local states, ``s_g[R]``, uniforms ``u[R, m, k]`` -> ``c'[R, m, L]`` with
    ``x_i' = #{y : F(y | x_i, s_g) <= u_i}`` (``F`` the row CDF of ``P_l[x_i, s_g, .]``) and
    ``c'[x] = #{i : x_i' = x}`` — one draw of ``Σ_x Multinomial(c[x], P_l[x, s_g, .])``.
    """
    P_l = as_array("P_l", P_l, ndim=3)
    agents = np.asarray(agents)
    s_g = np.asarray(s_g)
    u = as_array("u", u, ndim=3)
    if agents.ndim != 2 or s_g.shape != agents.shape[:1] or u.shape[::2] != agents.shape:
        raise ValueError(
            f"agents, s_g, u: expected shapes (R, k), (R,), (R, m, k), got {agents.shape}, "
            f"{s_g.shape}, {u.shape}"
        )
    cdf = np.cumsum(P_l, axis=-1)
    cdf[..., -1] = 1.0
    x_next = sample_categorical(cdf[agents[:, None, :], s_g[:, None, None]], u)
    return counts_from_states(x_next, P_l.shape[0])


class _InverseCDF:
    """Exact inverse-CDF sampling ``x = #{j : F[row, j] <= u}`` for float32 uniforms, in O(1)
    per draw: a guide table gives ``x`` at the left edge of u's bin (G bins), then a few
    vectorised corrections jump over the CDF values inside the bin."""

    G = 4096

    def __init__(self, cdf: np.ndarray) -> None:
        F = cdf.reshape(-1, cdf.shape[-1]).astype(np.float32)
        F[:, -1] = 1.0
        rows, K = F.shape
        edges = (np.arange(self.G, dtype=np.float32) / self.G)[None, :, None]
        self.guide = (F[:, None, :] <= edges).sum(axis=2).astype(np.int16).ravel()
        # jump[r, x]: first state whose CDF value exceeds F[r, x] (skips zero-probability states)
        later = F[:, None, :] > F[:, :, None]  # (r, x, j)
        self.jump = np.where(later.any(axis=2), later.argmax(axis=2), K - 1).astype(np.int16)
        self.jump = self.jump.ravel()
        self.F = F.ravel()
        self.K = K
        inside = (F * self.G) % 1 != 0  # values strictly inside a bin
        binid = np.floor(F * self.G).astype(np.int64) + self.G * np.arange(rows)[:, None]
        keys = np.unique(np.stack([binid[inside], F[inside].view(np.int32)], 1), axis=0)
        self.n_corr = int(np.bincount(keys[:, 0]).max()) if len(keys) else 0

    def __call__(self, row: np.ndarray, u: np.ndarray) -> np.ndarray:
        base = row * self.K
        x = self.guide[row * self.G + (u * self.G).astype(np.int32)]
        for _ in range(self.n_corr):  # at most a couple of corrections
            at = base + x
            x = np.where(self.F[at] <= u, self.jump[at], x)
        return x


def _sorting_network(k: int) -> list[tuple[int, int]]:
    """Comparator pairs of odd-even transposition sort on k slots."""
    return [(i, i + 1) for r in range(k) for i in range(r % 2, k - 1, 2)]


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(1, min(4, os.cpu_count() or 1))
    return check_int("workers", workers, low=1)


def sample_next_counts(
    mdp: GlobalLocalMDP,
    space: CountSpace,
    m: int,
    rng: np.random.Generator | int,
    *,
    workers: int | None = None,
) -> np.ndarray:
    """m next-count samples per ``(s_g, c)``: ``next_c[s_g, i, j] = index(c^j)`` with
    ``c^j = Σ_x Multinomial(c[x], P_l[x, s_g, .])`` for ``c = space.counts[i]`` (int32,
    shape ``(S_g, N, m)``). Shared by every ``a_g`` (local moves ignore the action).

    Each count vector is expanded to its k agents (``space.agents``); each agent draws its
    next state by inverse CDF on a float32 uniform; the k next states are sorted and ranked
    with the binomial table (``Σ_i C(x_(i)' + i, i + 1)``). Chunks of rows use child streams
    ``rng.spawn``, so the result does not depend on ``workers``.
    """
    _check_mdp(mdp)
    if not isinstance(space, CountSpace) or space.L != mdp.L:
        raise ValueError(f"space: expected a CountSpace with L={mdp.L}, got {space!r}")
    m = check_int("m", m, low=1)
    rng = make_rng(rng)
    S_g, N, k = mdp.n_global, space.size, space.k
    agents = space.agents
    sampler = _InverseCDF(mdp.cdf_l)  # rows x * S_g + s_g
    network = _sorting_network(k)
    i = np.arange(k)
    col_tables = [np.ascontiguousarray(space.table[:, j + 1]) for j in i]
    next_c = np.empty((S_g * N, m), dtype=np.int32)
    starts = range(0, S_g * N, SAMPLE_ROWS)
    streams = rng.spawn(len(starts))

    def work(job: tuple[int, np.random.Generator]) -> None:
        lo, g = job
        hi = min(lo + SAMPLE_ROWS, S_g * N)
        s = np.arange(lo, hi) // N  # s_g of each row
        a = agents[np.arange(lo, hi) % N]  # (B, k)
        row = (a.T.astype(np.int32) * S_g + s.astype(np.int32))[:, :, None]  # (k, B, 1)
        u = g.random((k, hi - lo, m), dtype=np.float32)
        x = list(sampler(row, u))  # k arrays (B, m) of next states
        for p, q in network:  # sort the k next states of every sample
            x[p], x[q] = np.minimum(x[p], x[q]), np.maximum(x[p], x[q])
        rank = np.zeros((hi - lo, m), dtype=np.int64)
        for j in i:  # rank = Σ_i C(x_(i)' + i, i + 1)
            rank += col_tables[j][x[j] + j]
        next_c[lo:hi] = rank

    _run(work, list(zip(starts, streams, strict=True)), _workers(workers))
    return next_c.reshape(S_g, N, m)


def sample_next_globals(
    mdp: GlobalLocalMDP, N: int, m: int, rng: np.random.Generator | int
) -> np.ndarray:
    """m next global states per ``(s_g, c, a_g)``: ``next_g[s_g, i, a_g, j] ~ P_g(.|s_g, a_g)``,
    shape ``(S_g, N, A_g, m)``. Where every row of ``P_g`` is a point mass no draw is needed and
    a read-only broadcast view is returned (no memory)."""
    _check_mdp(mdp)
    N = check_int("N", N, low=1)
    m = check_int("m", m, low=1)
    rng = make_rng(rng)
    S_g, A = mdp.n_global, mdp.n_actions
    dtype = np.int8 if S_g <= 127 else np.int32
    if np.all(mdp.P_g.max(axis=2) == 1.0):
        target = mdp.P_g.argmax(axis=2).astype(dtype)
        return np.broadcast_to(target[:, None, :, None], (S_g, N, A, m))
    sampler = _InverseCDF(mdp.cdf_g)  # rows s_g * A + a_g
    row = (np.arange(S_g)[:, None] * A + np.arange(A)).astype(np.int32)[:, None, :, None]
    out = np.empty((S_g, N, A, m), dtype=dtype)
    for lo in range(0, N, CHUNK_ROWS):  # chunks over count vectors
        hi = min(lo + CHUNK_ROWS, N)
        u = rng.random((S_g, hi - lo, A, m), dtype=np.float32)
        out[:, lo:hi] = sampler(row, u)
    return out


def _run(work, jobs: list, workers: int) -> None:
    if workers == 1 or len(jobs) < 8:  # small problems: threads cost more than they save
        for job in jobs:
            work(job)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, jobs))


# ----------------------------------------------------------------------------- SUBSAMPLE-Q


def sampled_bellman_update(
    Q: np.ndarray,
    r_k: np.ndarray,
    next_g: np.ndarray,
    next_c: np.ndarray,
    gamma: float,
    *,
    workers: int | None = None,
    check: bool = True,
    value_dtype: type = np.float64,
) -> np.ndarray:
    """The empirical Bellman operator of SUBSAMPLE-Q with m fixed samples:

        Q_{t+1}(s_g, c, a_g) = r_k(s_g, c, a_g) + (γ/m) Σ_j max_a' Q_t(s_g^j, c^j, a').

    ``Q, r_k: (S_g, N, A)``; ``next_g[s_g, c, a_g, j]`` = index of ``s_g^j``;
    ``next_c[s_g, c, j]`` = index of ``c^j`` (shared by the actions). Returns ``Q_{t+1}``.

    The sweep is a random gather, bound by memory latency, so ``V = max_a' Q_t`` is stored
    once per sweep as rows ``V[s_g', c']`` of ``value_dtype``: float64 (default) is exact;
    ``np.float32`` halves the table the gather reads (the sum over j is still accumulated in
    float64; values then agree to ~1e-7 relative). When the global move is
    deterministic (``next_g`` a broadcast view, as :func:`sample_next_globals` returns) the
    samples of one ``(s_g, a_g)`` all read the single row ``V[s_g'(s_g, a_g)]`` (``N`` floats,
    cache-sized for N up to a few million), once per distinct ``s_g'``; otherwise the flat
    index ``s_g^j N + c^j`` is gathered. Rows are processed in chunks (threads).
    """
    if check:
        _check_update_args(Q, r_k, next_g, next_c, gamma)
    S_g, N, A = Q.shape
    m = next_c.shape[-1]
    if S_g * N * A * m <= SMALL_SWEEP:  # the equation as it reads; fastest for small tables
        V = Q.max(axis=2).astype(value_dtype)  # V(s_g', c') = max_a' Q_t(s_g', c', a')
        EV = V[next_g, next_c[:, :, None, :]].mean(axis=-1, dtype=np.float64)  # (S_g, N, A)
        return r_k + gamma * EV
    targets = _deterministic_targets(next_g)
    out = np.empty_like(r_k)
    scale = gamma / m
    workers = _workers(workers)
    V = np.empty((S_g, N), dtype=value_dtype)  # V[s_g', c'] = max_a' Q_t(s_g', c', a')
    V_flat = V.ravel()
    if targets is not None:
        rows = [np.unique(t, return_inverse=True) for t in targets]  # distinct s_g' per s_g
        # W[s][c', i] = V[uniq_i, c']: the values one sample of s_g can need, side by side,
        # read as one item of width·itemsize bytes (one gather per sample, not one per s_g')
        W = [_side_by_side(len(uniq), N, V.dtype) for uniq, _ in rows]

    def fill(lo: int) -> None:  # V (and W) for the count vectors lo:hi
        hi = min(lo + 16 * CHUNK_ROWS, N)
        V[:, lo:hi] = _max_over_actions(Q[:, lo:hi])
        if targets is not None:
            for (uniq, _), (_, both) in zip(rows, W, strict=True):  # |S_g| tables
                both[lo:hi, : len(uniq)] = V[uniq, lo:hi].T

    _run(fill, list(range(0, N, 16 * CHUNK_ROWS)), workers)
    jobs = [(s, lo) for s in range(S_g) for lo in range(0, N, CHUNK_ROWS)]

    if targets is not None:

        def work(job: tuple[int, int]) -> None:
            s, lo = job
            hi = min(lo + CHUNK_ROWS, N)
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
            hi = min(lo + CHUNK_ROWS, N)
            g = next_g[s, lo:hi].transpose(1, 2, 0).astype(np.int32)  # (A, m, B)
            flat = g * N + next_c[s, lo:hi].T  # index of (s_g^j, c^j) in V, (A, m, B)
            EV = np.sum(V_flat[flat], axis=1, dtype=np.float64)  # (A, B)
            out[s, lo:hi] = r_k[s, lo:hi] + scale * EV.T

    _run(work, jobs, workers)
    return out


def _side_by_side(D: int, N: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """A zero ``(N, width)`` table ``both`` (width = D rounded up to a power of two) and the
    same memory as ``items[N]``, one item of ``width * itemsize`` bytes per row, so that a
    single gather fetches the D values a sample needs (filled in by the caller)."""
    size = np.dtype(dtype).itemsize
    width = 1 << (D - 1).bit_length()
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


def _deterministic_targets(next_g: np.ndarray) -> np.ndarray | None:
    """``t[s_g, a_g]`` when ``next_g`` is a view broadcast over count vectors and samples
    (a deterministic global move), else None."""
    if next_g.strides[1] == 0 and next_g.strides[3] == 0:
        return np.asarray(next_g[:, 0, :, 0], dtype=np.intp)
    return None


def subsample_q(
    mdp: GlobalLocalMDP,
    k: int,
    *,
    m: int,
    T: int,
    rng: np.random.Generator | int,
    tol: float | None = None,
    workers: int | None = None,
    max_bytes: float = 8e9,
    value_dtype: type = np.float64,
) -> QResult:
    """SUBSAMPLE-Q (Algorithm 1): on the k-agent count space, draw m next states per
    ``(s_g, c, a_g)`` once, then run T sweeps of :func:`sampled_bellman_update` from
    ``Q_0 = 0`` (stopping early when ``||Q_{t+1} - Q_t||_∞ <= tol`` if ``tol`` is given).
    ``value_dtype=np.float32`` stores the per-sweep value table in single precision (faster
    on large k; Q agrees with the default to ~1e-7 relative)."""
    _check_mdp(mdp)
    k = check_int("k", k, low=1)
    m = check_int("m", m, low=1)
    T = check_int("T", T, low=1)
    rng = make_rng(rng)
    if tol is not None:
        tol = check_positive("tol", tol)
    if np.dtype(value_dtype) not in (np.float32, np.float64):
        raise ValueError(f"value_dtype: expected np.float32 or np.float64, got {value_dtype!r}")
    S_g, A, L = mdp.n_global, mdp.n_actions, mdp.L
    N = comb(k + L - 1, L - 1)
    need = estimate_bytes(S_g, A, N, m, deterministic_g=bool(np.all(mdp.P_g.max(axis=2) == 1)))
    if need > max_bytes or S_g * N >= 2**31:
        raise ValueError(
            f"k: SUBSAMPLE-Q with k={k}, L={L}, m={m} needs about {need / 1e9:.3g} GB "
            f"({S_g}*{N} count states) > max_bytes={max_bytes / 1e9:.3g} GB; lower k or m"
        )
    space = CountSpace(k, L)
    r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    g_rng, c_rng = rng.spawn(2)
    next_c = sample_next_counts(mdp, space, m, c_rng, workers=workers)
    # same (S_g, N, m) array, stored as (S_g, m, N) so that a sweep sums over j down columns
    next_c = np.ascontiguousarray(next_c.transpose(0, 2, 1)).transpose(0, 2, 1)
    next_g = sample_next_globals(mdp, N, m, g_rng)
    Q = r_k.copy()  # Q_1 = r_k: the first sweep from Q_0 = 0 (max_a' Q_0 = 0)
    sweeps = 1
    for _ in range(2, T + 1):
        Q_new = sampled_bellman_update(
            Q, r_k, next_g, next_c, mdp.gamma, workers=workers, check=False, value_dtype=value_dtype
        )
        done = tol is not None and np.max(np.abs(Q_new - Q)) <= tol
        Q, sweeps = Q_new, sweeps + 1
        if done:
            break
    return QResult(Q, space, m, sweeps, "subsample_q")


def estimate_bytes(S_g: int, A: int, N: int, m: int, *, deterministic_g: bool = False) -> float:
    """Approximate peak bytes of :func:`subsample_q`: Q, Q_new, r_k (float64), next_c
    (int32), next_g (int8, none if P_g is deterministic) and the count tables."""
    table = 3 * 8.0 * S_g * N * A
    samples = 4.0 * S_g * N * m + (0 if deterministic_g else 1.0 * S_g * N * A * m)
    return table + samples + 8.0 * N * S_g + 64.0 * N


# ----------------------------------------------------------------------------- s_g-only policies


@dataclass(frozen=True)
class GlobalPolicyCertificate:
    """Exact value and optimality check of a policy ``π(s_g)`` that ignores the local agents.

    ``pi_g[S_g]`` the policy; ``g[S_g]`` and ``h[S_g, L]`` give its value on the n-agent
    system, ``V^π(s_g, s_1..s_n) = g(s_g) + (1/n) Σ_i h(s_g, s_i)`` (any n);
    ``advantage[s_g, x, a] = Q^π(s_g, F = e_x, a) − V^π(s_g, e_x)``; ``optimal`` is true when
    every advantage is ``<= tol``. It tests this one candidate: ``optimal = False`` does not
    show that no crowd-blind policy is optimal (read that off the exact optimum).
    """

    pi_g: np.ndarray
    g: np.ndarray
    h: np.ndarray
    advantage: np.ndarray
    optimal: bool

    def value(self, s_g: np.ndarray, s_local: np.ndarray) -> np.ndarray:
        """``V^π = g(s_g) + (1/n) Σ_i h(s_g, s_i)`` for ``s_g[B]``, ``s_local[B, n]``."""
        s_g = np.asarray(s_g)
        return self.g[s_g] + self.h[s_g[:, None], np.asarray(s_local)].mean(axis=1)


def certify_global_policy(
    mdp: GlobalLocalMDP, pi_g: np.ndarray | None = None, *, tol: float = 1e-9
) -> GlobalPolicyCertificate:
    """Is a policy ``π(s_g)`` that ignores the local states optimal for **every** n?

    Under such a policy the global chain does not depend on the local agents, so the value
    is linear in the histogram ``F = c/n``: ``V^π(s_g, F) = g(s_g) + Σ_x F[x] h(s_g, x)`` with

        g(s) = r_g(s, π(s)) + γ Σ_{s'} P_g[s, π(s), s'] g(s'),
        h(s, x) = r_l(x, s) + γ Σ_{s', y} P_g[s, π(s), s'] P_l[x, s, y] h(s', y)

    (two linear systems). ``Q^π(s, F, a) − V^π(s, F)`` is then linear in F too, so its
    maximum over histograms sits at a vertex ``F = e_x`` (all agents in state x, a histogram
    of every n): π is optimal for every n iff the advantage is ``<= 0`` at every
    ``(s_g, x, a)`` (policy improvement theorem). ``pi_g`` defaults to the most frequent
    greedy action of the exact k = 1 solution at each ``s_g``.
    """
    _check_mdp(mdp)
    tol = check_positive("tol", tol, allow_zero=True)
    S_g, A, L = mdp.n_global, mdp.n_actions, mdp.L
    if pi_g is None:
        pol1 = solve_mean_field(mdp, 1).policy  # (S_g, L)
        pi_g = (pol1[:, :, None] == np.arange(A)).sum(axis=1).argmax(axis=1)
    pi_g = np.asarray(pi_g)
    if pi_g.shape != (S_g,) or pi_g.dtype.kind not in "iu" or pi_g.min() < 0 or pi_g.max() >= A:
        raise ValueError(f"pi_g: expected {S_g} integer actions in range({A}), got {pi_g!r}")
    s = np.arange(S_g)
    P_pi = mdp.P_g[s, pi_g]  # (S_g, S_g')
    g = np.linalg.solve(np.eye(S_g) - mdp.gamma * P_pi, mdp.r_g[s, pi_g])
    # M[(s, x), (s', y)] = P_g[s, π(s), s'] P_l[x, s, y]
    M = np.einsum("st,xsy->sxty", P_pi, mdp.P_l).reshape(S_g * L, S_g * L)
    h = np.linalg.solve(np.eye(S_g * L) - mdp.gamma * M, mdp.r_l.T.ravel()).reshape(S_g, L)
    W = g[None, None, :] + np.einsum("xsy,ty->sxt", mdp.P_l, h)  # W[s, x, s'] = g(s') + P_l h
    EW = np.einsum("sat,sxt->sxa", mdp.P_g, W)  # Σ_{s'} P_g[s, a, s'] W[s, x, s']
    adv = (mdp.r_g - mdp.r_g[s, pi_g][:, None])[:, None, :] + mdp.gamma * (
        EW - EW[s, :, pi_g][:, :, None]
    )
    return GlobalPolicyCertificate(pi_g.astype(np.intp), g, h, adv, bool(adv.max() <= tol))


# ----------------------------------------------------------------------------- brute force


def _tuple_vi(mdp: GlobalLocalMDP, k: int, tol: float, max_iter: int, method: str):
    S_g, L = mdp.n_global, mdp.L
    states = np.indices((L,) * k).reshape(k, -1).T  # (L^k, k)
    r = mdp.r_g[:, None, :] + mdp.r_l[states, :].mean(axis=1).T[:, :, None]  # (S_g, L^k, A)
    P = mdp.P_l.transpose(1, 2, 0).reshape(S_g, 1, *([1] * (k - 1)), L, L)  # [g, .., y, x]
    Q = np.zeros_like(r)
    for it in range(1, max_iter + 1):  # noqa: B007 (it is the sweep count)
        V = Q.max(axis=2)  # (S_g', L^k)
        W = np.broadcast_to(V.reshape(1, S_g, *(L,) * k), (S_g, S_g, *(L,) * k))
        for i in range(k):  # E over agent i's next state: contract axis 2+i with P_l[., s_g, .]
            W = np.moveaxis((np.moveaxis(W, 2 + i, -1)[..., None, :] @ P)[..., 0, :], -1, 2 + i)
        EV = W.reshape(S_g, S_g, -1)  # (S_g, S_g', L^k)
        Q_new = r + mdp.gamma * np.einsum("gas,gst->gta", mdp.P_g, EV)
        done = np.max(np.abs(Q_new - Q)) <= tol
        Q = Q_new
        if done:
            break
    return TupleResult(Q, k, L, it, method)


def _tuple_args(mdp, k, name, tol, max_iter, max_entries):
    _check_mdp(mdp)
    k = check_int(name, k, low=1)
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    size = mdp.n_global**2 * mdp.L**k
    if size > max_entries:
        raise ValueError(
            f"{name}: brute force over |S_g| L^{name} = {mdp.n_global}*{mdp.L}^{k} tuples needs "
            f"{size} > {max_entries:.0f} entries per sweep; use solve_mean_field"
        )
    return k, tol, max_iter


def solve_raw_tuples(
    mdp: GlobalLocalMDP,
    k: int,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    max_entries: float = 2e7,
) -> TupleResult:
    """The exponential-in-k variant: exact value iteration on ordered k-tuples
    ``(s_g, s_1..s_k, a_g)`` (``|S_g||A_g|L^k`` entries). By permutation invariance,
    ``q[s_g, t, a] = solve_mean_field(mdp, k).q[s_g, index(counts(t)), a]``."""
    k, tol, max_iter = _tuple_args(mdp, k, "k", tol, max_iter, max_entries)
    return _tuple_vi(mdp, k, tol, max_iter, "raw_tuples")


def solve_full(
    mdp: GlobalLocalMDP,
    n: int,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    max_entries: float = 2e7,
) -> TupleResult:
    """Brute-force value iteration on the full n-agent system over ``S_g × S_l^n`` (tiny n)."""
    n, tol, max_iter = _tuple_args(mdp, n, "n", tol, max_iter, max_entries)
    return _tuple_vi(mdp, n, tol, max_iter, "full")


# ----------------------------------------------------------------------------- validation


def _check_mdp(mdp: object) -> None:
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")


def _check_update_args(Q, r_k, next_g, next_c, gamma) -> None:
    Q = as_array("Q", Q, ndim=3)
    S_g, N, A = Q.shape
    as_array("r_k", r_k, shape=(S_g, N, A))
    if not isinstance(next_c, np.ndarray) or next_c.dtype.kind not in "iu":
        raise ValueError("next_c: expected an integer array of shape (S_g, N, m)")
    if next_c.ndim != 3 or next_c.shape[:2] != (S_g, N) or next_c.shape[2] < 1:
        raise ValueError(f"next_c: expected shape ({S_g}, {N}, m), got {next_c.shape}")
    m = next_c.shape[2]
    if not isinstance(next_g, np.ndarray) or next_g.dtype.kind not in "iu":
        raise ValueError("next_g: expected an integer array of shape (S_g, N, A, m)")
    if next_g.shape != (S_g, N, A, m):
        raise ValueError(f"next_g: expected shape ({S_g}, {N}, {A}, {m}), got {next_g.shape}")
    if next_c.min() < 0 or next_c.max() >= N:
        raise ValueError(
            f"next_c: expected indices in range({N}), got [{next_c.min()}, {next_c.max()}]"
        )
    if next_g.min() < 0 or next_g.max() >= S_g:
        raise ValueError(f"next_g: expected indices in range({S_g})")
    if S_g * N >= 2**31:
        raise ValueError("Q: too many (s_g, c) pairs for int32 indices")
    check_open_interval("gamma", gamma, 0.0, 1.0)
