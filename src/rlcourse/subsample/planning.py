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

from dataclasses import dataclass
from math import comb

import numpy as np

from rlcourse._validate import as_array, check_int, check_open_interval, check_positive, make_rng
from rlcourse.subsample import _kernel
from rlcourse.subsample._kernel import InverseCDF as _InverseCDF  # noqa: F401 (tests use it)
from rlcourse.subsample.counts import CountSpace, counts_from_states
from rlcourse.subsample.model import GlobalLocalMDP, sample_categorical

__all__ = [
    "GlobalPolicyCertificate",
    "QResult",
    "TupleResult",
    "certify_global_policy",
    "count_kernel",
    "estimate_bytes",
    "subsample_q_bytes",
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
            f"entries and needs about {need / 1e9:.3g} GB; max_bytes allows "
            f"{max_bytes / 1e9:.3g} GB; use subsample_q (sampled operator) or a smaller k"
        )
    # Built as T[c', s_g, c]: the parent rows are gathered along the last axis once per
    # level, then every "lands on y" term gathers whole contiguous rows,
    # T_new[c'] = Σ_{y: c'[y] > 0} P_l[x, s_g, y] K_parent[c' - e_y]. Every level works in
    # three buffers allocated once at the top level's size (fresh arrays at every level would
    # spend about as long in page faults as in arithmetic); the padded last parent row is zero.
    top = S_g * N * N
    bufs = [np.empty(top), np.empty(top)]  # T of the previous level and of this one, in turn
    padded = np.empty(top + S_g * N)  # K_{j-1}[c - e_x, c'] for every row c', then a zero row
    T = bufs[0][:S_g].reshape(1, S_g, 1)
    T.fill(1.0)
    prev = CountSpace(0, L)
    eye = np.eye(L, dtype=np.int64)
    for j in range(1, k + 1):  # one agent more per level
        space = CountSpace(j, L)
        n_prev, n_j = prev.size, space.size
        x = (space.counts > 0).argmax(axis=1)  # smallest occupied state of each c
        parent = prev.index(space.counts - eye[x])  # index of c - e_x
        K_parent = padded[: (n_prev + 1) * S_g * n_j].reshape(n_prev + 1, S_g, n_j)
        np.take(T, parent, axis=2, out=K_parent[:n_prev], mode="clip")
        K_parent[n_prev] = 0.0
        w = P_l[x].transpose(2, 1, 0)  # (L, S_g, N_j): P_l[x, s_g, y]
        T_new = bufs[j % 2][: n_j * S_g * n_j].reshape(n_j, S_g, n_j)
        # the previous level's T is spent once K_parent holds its rows: its buffer takes a term
        landed = bufs[(j + 1) % 2][: n_j * S_g * n_j].reshape(n_j, S_g, n_j)
        for y in range(L):  # the moved agent lands on y
            occupied = space.counts[:, y] > 0
            down = np.full(n_j, n_prev)  # the zero row where c'[y] = 0
            down[occupied] = prev.index(space.counts[occupied] - eye[y])  # c' - e_y
            out = T_new if y == 0 else landed
            np.take(K_parent, down, axis=0, out=out, mode="clip")
            out *= w[y]
            if y:
                T_new += landed
        T, prev = T_new, space
    return np.ascontiguousarray(T.transpose(1, 2, 0))


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


def sample_next_counts(
    mdp: GlobalLocalMDP,
    space: CountSpace,
    m: int,
    rng: np.random.Generator | int,
    *,
    workers: int | None = None,
    method: str | None = None,
) -> np.ndarray:
    """m next-count samples per ``(s_g, c)``: ``next_c[s_g, i, j] = index(c^j)`` with
    ``c^j = Σ_x Multinomial(c[x], P_l[x, s_g, .])`` for ``c = space.counts[i]`` (int32,
    shape ``(S_g, N, m)``, stored sample-major). Shared by every ``a_g`` (local moves ignore
    the action).

    Two exact ways to draw ``c^j``, chosen by cost (``method=None``) or by name:

    * ``"binomial"``: for each occupied state x, its ``c[x]`` agents split over the next
      states y one conditional binomial at a time,
      ``n_y ~ Binomial(c[x] − Σ_{z<y} n_z, P_l[x, s_g, y] / Σ_{z>=y} P_l[x, s_g, z])``
      — a cost per sample independent of k (large k, small L);
    * ``"agents"``: each of the k agents draws its next state by inverse CDF on a float32
      uniform and the next states are counted — a cost per sample linear in k (small k,
      large L).

    Chunks of rows use child streams ``rng.spawn``, so the result does not depend on
    ``workers``.
    """
    _check_mdp(mdp)
    if not isinstance(space, CountSpace) or space.L != mdp.L:
        raise ValueError(f"space: expected a CountSpace with L={mdp.L}, got {space!r}")
    m = check_int("m", m, low=1)
    rng = make_rng(rng)
    if method is None:
        method = _kernel.sampler_method(mdp.P_l, space.k)
    if method not in ("binomial", "agents"):
        raise ValueError(f"method: expected 'binomial', 'agents' or None, got {method!r}")
    if space.k == 0:
        return np.zeros((mdp.n_global, 1, m), dtype=np.int32)
    ranks = _kernel.next_count_ranks(
        mdp.P_l,
        mdp.cdf_l,
        space.counts,
        space.table,
        mdp.n_global,
        m,
        rng,
        _workers(workers),
        method,
    )
    return ranks.transpose(0, 2, 1)


def _workers(workers: int | None) -> int:
    if workers is None:
        return _kernel.workers_for(None)
    return check_int("workers", workers, low=1)


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
    sampler = _kernel.InverseCDF(mdp.cdf_g)  # rows s_g * A + a_g
    row = (np.arange(S_g)[:, None] * A + np.arange(A)).astype(np.int32)[:, None, :, None]
    out = np.empty((S_g, N, A, m), dtype=dtype)
    B = _kernel.global_chunk_rows(S_g, A, m)
    for lo in range(0, N, B):  # chunks over count vectors
        hi = min(lo + B, N)
        u = rng.random((S_g, hi - lo, A, m), dtype=np.float32)
        out[:, lo:hi] = sampler(row, u)
    return out


# ----------------------------------------------------------------------------- SUBSAMPLE-Q


def sampled_bellman_update(
    Q: np.ndarray,
    r_k: np.ndarray,
    next_g: np.ndarray,
    next_c: np.ndarray,
    gamma: float,
    *,
    check: bool = True,
    value_dtype: type = np.float64,
) -> np.ndarray:
    """The empirical Bellman operator of SUBSAMPLE-Q with m fixed samples:

        Q_{t+1}(s_g, c, a_g) = r_k(s_g, c, a_g) + (γ/m) Σ_j max_a' Q_t(s_g^j, c^j, a').

    ``Q, r_k: (S_g, N, A)``; ``next_g[s_g, c, a_g, j]`` = index of ``s_g^j``;
    ``next_c[s_g, c, j]`` = index of ``c^j`` (shared by the actions). Returns ``Q_{t+1}``.
    ``value_dtype=np.float32`` stores ``V = max_a' Q_t`` in single precision (the mean over j
    is still taken in float64). :func:`subsample_q` runs the same update through the threaded
    kernel ``rlcourse.subsample._kernel.bellman_sweep`` (equal numbers, tested).
    """
    if check:
        _check_update_args(Q, r_k, next_g, next_c, gamma)
    V = Q.max(axis=2).astype(value_dtype)  # V(s_g', c') = max_a' Q_t(s_g', c', a')
    V_next = V[next_g, next_c[:, :, None, :]]  # V(s_g^j, c^j): (S_g, N, A, m)
    return r_k + gamma * V_next.mean(axis=-1, dtype=np.float64)


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
    on large k; Q agrees with the default to ~1e-7 relative). Refuses, before allocating
    anything large, when :func:`subsample_q_bytes` exceeds ``max_bytes``."""
    _check_mdp(mdp)
    k = check_int("k", k, low=1)
    m = check_int("m", m, low=1)
    T = check_int("T", T, low=1)
    rng = make_rng(rng)
    if tol is not None:
        tol = check_positive("tol", tol)
    if np.dtype(value_dtype) not in (np.float32, np.float64):
        raise ValueError(f"value_dtype: expected np.float32 or np.float64, got {value_dtype!r}")
    max_bytes = check_positive("max_bytes", max_bytes)
    workers = _workers(workers)
    S_g, L = mdp.n_global, mdp.L
    N = comb(k + L - 1, L - 1)
    need = subsample_q_bytes(
        mdp, k, m, value_dtype=value_dtype, workers=workers, tol=tol is not None
    )
    if need > max_bytes or S_g * N >= 2**31:
        raise ValueError(
            f"k: SUBSAMPLE-Q with k={k}, L={L}, m={m} ({S_g}*{N} count states) needs about "
            f"{need / 1e9:.3g} GB; max_bytes allows {max_bytes / 1e9:.3g} GB; lower k or m"
        )
    space = CountSpace(k, L)
    r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    g_rng, c_rng = rng.spawn(2)
    next_c = sample_next_counts(mdp, space, m, c_rng, workers=workers)  # stored sample-major
    next_g = sample_next_globals(mdp, N, m, g_rng)
    Q = r_k.copy()  # Q_1 = r_k: the first sweep from Q_0 = 0 (max_a' Q_0 = 0)
    sweeps = 1
    for _ in range(2, T + 1):
        Q_new = _kernel.bellman_sweep(
            Q, r_k, next_g, next_c, mdp.gamma, workers=workers, value_dtype=value_dtype
        )
        done = False
        if tol is not None:
            Q -= Q_new  # Q_t is not needed any more: reuse it for the change
            done = np.max(np.abs(Q, out=Q)) <= tol
        Q, sweeps = Q_new, sweeps + 1
        if done:
            break
    return QResult(Q, space, m, sweeps, "subsample_q")


def subsample_q_bytes(
    mdp: GlobalLocalMDP,
    k: int,
    m: int,
    *,
    value_dtype: type = np.float64,
    workers: int | None = None,
    tol: bool = False,
) -> float:
    """The bytes :func:`subsample_q` expects to need for ``mdp`` at ``k`` and ``m`` (the figure
    its memory guard compares with ``max_bytes``): :func:`estimate_bytes` with the count-space
    size ``N = C(k+L-1, L-1)``, the kind of global move and the sampler ``subsample_q`` uses."""
    return estimate_bytes(
        mdp.n_global,
        mdp.n_actions,
        comb(k + mdp.L - 1, mdp.L - 1),
        m,
        deterministic_g=bool(np.all(mdp.P_g.max(axis=2) == 1)),
        k=k,
        L=mdp.L,
        value_dtype=value_dtype,
        workers=workers,
        tol=tol,
        sampler=_kernel.sampler_method(mdp.P_l, k),
    )


def estimate_bytes(
    S_g: int,
    A: int,
    N: int,
    m: int,
    *,
    deterministic_g: bool = False,
    k: int | None = None,
    L: int | None = None,
    value_dtype: type = np.float64,
    workers: int | None = None,
    tol: bool = False,
    sampler: str | None = None,
) -> float:
    """Peak bytes :func:`subsample_q` allocates, the largest of its phases:

    * building the count space: count vectors ``(N, L)`` int16, their enumeration (about 40
      bytes per vector) and the binomial table ``(k+L) × (max(k, L−1)+1)`` int64;
    * the reward ``r_k`` (S_g N A float64, via an ``(N, L)`` float copy of the counts);
    * the sampler: ``next_c`` (S_g N m int32) plus one chunk of temporaries per thread;
    * ``next_g`` (S_g N A m int8; nothing when ``P_g`` is deterministic);
    * the sweeps: Q, Q_{t+1}, the value table V, the side-by-side value rows and the chunk
      temporaries of each thread (see ``_kernel.sweep_bytes``).

    ``k`` and ``L`` (when given) size the count-space tables and the sampler's chunks
    (``sampler``: the method :func:`sample_next_counts` uses, else the larger of the two);
    without them the sampler's chunks are bounded by ``24 · AGENT_BUDGET`` bytes per thread.
    """
    workers = _kernel.workers_for(workers)
    table = 8.0 * (k + L) * (max(k, L - 1, 1) + 1) if k is not None and L is not None else 0.0
    Lc = L if L is not None else 1
    counts = 2.0 * N * Lc
    build = counts + 40.0 * N
    r_k = 8.0 * S_g * N * A
    reward = 8.0 * N * (Lc + 1 + 2 * S_g) + r_k  # float counts, sums, mean reward
    next_c = 4.0 * S_g * N * m
    if k is not None and L is not None:
        chunk, jobs = 0.0, 0
        for method in (sampler,) if sampler else ("binomial", "agents"):
            chunk = max(chunk, _kernel.sampler_chunk_bytes(k, L, N, m, method))
            jobs = max(jobs, S_g * -(-N // _kernel.sampler_chunk_rows(k, m, method)))
    else:
        chunk, jobs = 24.0 * _kernel.AGENT_BUDGET, workers
    sampling = next_c + _kernel.concurrent(workers, jobs) * chunk
    next_g = 0.0 if deterministic_g else 1.0 * S_g * N * A * m
    rows = min(N, _kernel.global_chunk_rows(S_g, A, m))
    globals_ = next_g + (0.0 if deterministic_g else _kernel.GLOBAL_BYTES * S_g * rows * A * m)
    sweep = _kernel.sweep_bytes(
        S_g, N, A, m, deterministic_g=deterministic_g, value_dtype=value_dtype, workers=workers
    )
    return table + max(
        build,
        counts + reward,
        counts + r_k + sampling,
        counts + r_k + next_c + globals_,
        counts + r_k + next_c + next_g + r_k + sweep,
    )


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
