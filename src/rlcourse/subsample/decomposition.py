"""The optimality gap of SUBSAMPLE-Q taken apart exactly, on tiny systems (no Monte Carlo).

Every policy below is symmetric in the n local agents, so its value on the joint state space
``S_g × S_l^n`` depends on the local states only through their count vector ``c`` (``Σ c = n``):
``V(s_g, s_1..s_n) = V(s_g, c)``. The values are therefore computed exactly by one dense linear
solve on the n-agent count space, ``V = (I − γ P_π)^{-1} r_π``, with
``P_π[(s_g,c),(s_g',c')] = Σ_a π(a|s_g,c) P_g[s_g,a,s_g'] K_n[s_g,c,c']`` (``K_n`` the exact
next-count law of :func:`~rlcourse.subsample.planning.count_kernel`).

The gap of Algorithm 2 run with SUBSAMPLE-Q's table, ``V* − V^{π̂_{k,m,T}}``, is split along a
chain of five policies (the chain is the course's choice; the parts telescope exactly):

====================  =====================================================================
``V*``                the optimum of the n-agent system (policy iteration, exact)
``V_mean``            greedy in ``Q̄_k(s_g,c_n,a) = Σ_{c_k} H(c_k|c_n) Q*_k(s_g,c_k,a)``: the
                      exact k-agent values, averaged over the subset law (no sampling noise)
``V_exact``           Algorithm 2 with ``π*_k`` (greedy in the exact ``Q*_k``), fresh subsets
``V_fixed_point``     Algorithm 2 with ``π̂_{k,m}`` (greedy in the fixed point of ``T̂_{k,m}``)
``V_learned``         Algorithm 2 with ``π̂_{k,m,T}`` (greedy after T sweeps from ``Q_0 = 0``)
====================  =====================================================================

mismatch ``= V* − V_mean`` (k agents' values instead of n's; ``>= 0``), sampling
``= V_mean − V_exact`` (one random subset instead of the average), noise
``= V_exact − V_fixed_point`` (the Bellman noise ``ε_{k,m}``), truncation
``= V_fixed_point − V_learned`` (T sweeps instead of the fixed point). Only the first and the
total are signed; the middle parts can be negative. Here ``H(c_k | c_n) = Π_x C(c_n[x], c_k[x])
/ C(n, k)`` is the law of a uniform k-subset's counts (multivariate hypergeometric).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, factorial

import numpy as np

from rlcourse._validate import as_array, check_int, make_rng
from rlcourse.subsample.counts import CountSpace
from rlcourse.subsample.model import GlobalLocalMDP
from rlcourse.subsample.planning import (
    count_kernel,
    solve_mean_field,
    subsample_q,
    subsystem_reward,
)

__all__ = [
    "GapDecomposition",
    "SameHistogramMismatch",
    "decompose_gap",
    "evaluate_on_counts",
    "execution_value",
    "optimal_on_counts",
    "same_histogram_mismatch",
    "subset_count_law",
    "uniform_joint_weights",
]

SUBSET_MODES = ("fresh", "fixed", "replace")
MAX_STATES = 6000  # dense solves on at most this many (s_g, c) states
_CACHE: dict[tuple, tuple[GlobalLocalMDP, object]] = {}  # exact results, by (id(mdp), key)
_CACHE_SIZE = 64


def _cached(mdp: GlobalLocalMDP, key: tuple, compute):
    """Exact results are deterministic: compute once per (mdp object, key). The entry keeps
    the mdp alive and is used only if it is the same object (ids can be reused)."""
    hit = _CACHE.get((id(mdp), *key))
    if hit is not None and hit[0] is mdp:
        return hit[1]
    value = compute()
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[(id(mdp), *key)] = (mdp, value)
    return value


def _kernel(mdp: GlobalLocalMDP, k: int) -> np.ndarray:
    """The exact next-count law ``K_k`` (cached, read-only)."""

    def compute() -> np.ndarray:
        K = count_kernel(mdp.P_l, k)
        K.setflags(write=False)
        return K

    return _cached(mdp, ("kernel", k), compute)


def _q_star(mdp: GlobalLocalMDP, k: int):
    """``Q*_k`` by exact mean-field value iteration to 1e-13 (cached)."""
    return _cached(mdp, ("q_star", k), lambda: solve_mean_field(mdp, k, tol=1e-13))


def _check_mdp(mdp: object) -> GlobalLocalMDP:
    if not isinstance(mdp, GlobalLocalMDP):
        raise ValueError(f"mdp: expected a GlobalLocalMDP, got {type(mdp).__name__}")
    return mdp


def _check_size(what: str, states: int, max_states: int) -> None:
    if states > max_states:
        raise ValueError(
            f"n: the exact evaluation needs {states} {what} states > max_states={max_states}; "
            "these decompositions are for tiny systems (n <= 4 with small L)"
        )


def subset_count_law(n: int, k: int, L: int, *, replace: bool = False) -> np.ndarray:
    """``H[i, j] = P(counts of a uniform k-subset = c_k[j] | population counts c_n[i])``, shape
    ``(C(n+L-1, L-1), C(k+L-1, L-1))`` in the rank order of ``CountSpace``.

    Without replacement: ``Π_x C(c_n[x], c_k[x]) / C(n, k)`` (multivariate hypergeometric);
    with replacement (k indices drawn uniformly and independently):
    ``k! Π_x (c_n[x]/n)^{c_k[x]} / c_k[x]!`` (multinomial)."""
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=None if replace else n)
    L = check_int("L", L, low=1)
    cn = CountSpace(n, L).counts.astype(np.int64)
    ck = CountSpace(k, L).counts.astype(np.int64)
    if replace:
        F = cn / n  # (N_n, L)
        fact = np.array([factorial(int(v)) for v in range(k + 1)], dtype=float)
        coef = factorial(k) / np.prod(fact[ck], axis=1)  # (N_k,)
        return coef[None, :] * np.prod(F[:, None, :] ** ck[None, :, :], axis=2)
    table = np.array([[comb(a, b) for b in range(k + 1)] for a in range(n + 1)], dtype=float)
    return np.prod(table[cn[:, None, :], ck[None, :, :]], axis=2) / comb(n, k)


def _population_reward(mdp: GlobalLocalMDP, space: CountSpace) -> np.ndarray:
    """``r(s_g, c, a) = r_g(s_g, a) + (1/n) Σ_x c[x] r_l(x, s_g)``, shape ``(S_g, N, A)``."""
    return subsystem_reward(mdp.r_g, mdp.r_l, space.counts)


def _solve(mdp: GlobalLocalMDP, pi: np.ndarray, r: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``V = (I − γ P_π)^{-1} r_π`` on ``(s_g, c)`` for a stochastic ``pi[S_g, N, A]``."""
    S_g, N, _ = pi.shape
    r_pi = np.sum(pi * r, axis=2).ravel()
    Pg_pi = np.einsum("gca,gas->gcs", pi, mdp.P_g)  # (S_g, N, S_g')
    P = (Pg_pi[:, :, :, None] * K[:, :, None, :]).reshape(S_g * N, S_g * N)
    V = np.linalg.solve(np.eye(S_g * N) - mdp.gamma * P, r_pi)
    return V.reshape(S_g, N)


def evaluate_on_counts(
    mdp: GlobalLocalMDP, n: int, pi: np.ndarray, *, max_states: int = MAX_STATES
) -> np.ndarray:
    """Exact value ``V^π(s_g, c)`` of a symmetric policy ``pi[S_g, N_n, A]`` (action
    probabilities at each population count vector) on the n-agent system, ``(S_g, N_n)``."""
    mdp = _check_mdp(mdp)
    n = check_int("n", n, low=1)
    space = CountSpace(n, mdp.L)
    _check_size("(s_g, c)", mdp.n_global * space.size, max_states)
    pi = as_array("pi", pi, shape=(mdp.n_global, space.size, mdp.n_actions), nonnegative=True)
    if not np.allclose(pi.sum(axis=2), 1.0, atol=1e-9):
        raise ValueError("pi: expected action probabilities summing to 1 at every (s_g, c)")
    K = _kernel(mdp, n)
    return _solve(mdp, pi, _population_reward(mdp, space), K)


def optimal_on_counts(
    mdp: GlobalLocalMDP, n: int, *, max_states: int = MAX_STATES
) -> tuple[np.ndarray, np.ndarray]:
    """``(V*, π*)`` of the n-agent system on ``(s_g, c)``: policy iteration started from the
    greedy policy of mean-field value iteration, each evaluation an exact linear solve; stops
    when the greedy policy no longer changes (exact up to the solver's rounding)."""
    mdp = _check_mdp(mdp)
    n = check_int("n", n, low=1)
    space = CountSpace(n, mdp.L)
    _check_size("(s_g, c)", mdp.n_global * space.size, max_states)
    V, policy = _cached(mdp, ("optimum", n), lambda: _policy_iteration(mdp, n, space))
    return V.copy(), policy.copy()


def _policy_iteration(
    mdp: GlobalLocalMDP, n: int, space: CountSpace
) -> tuple[np.ndarray, np.ndarray]:
    K = _kernel(mdp, n)
    r = _population_reward(mdp, space)
    policy = solve_mean_field(mdp, n).policy
    eye = np.eye(mdp.n_actions)
    for _ in range(100):  # policy iteration: a handful of rounds
        V = _solve(mdp, eye[policy], r, K)
        EV = np.einsum("gas,gcd,sd->gca", mdp.P_g, K, V)
        Q = r + mdp.gamma * EV
        best = Q.max(axis=2, keepdims=True)
        keep = np.take_along_axis(Q, policy[:, :, None], axis=2) >= best - 1e-12
        new = np.where(keep[:, :, 0], policy, Q.argmax(axis=2))
        if np.array_equal(new, policy):
            return V, policy
        policy = new
    raise RuntimeError("policy iteration did not settle in 100 rounds")  # pragma: no cover


def _check_policy_k(mdp: GlobalLocalMDP, k: int, policy_k: object) -> np.ndarray:
    N_k = comb(k + mdp.L - 1, mdp.L - 1)
    arr = np.asarray(policy_k)
    if arr.shape != (mdp.n_global, N_k) or arr.dtype.kind not in "iu":
        raise ValueError(
            f"policy_k: expected integer actions of shape ({mdp.n_global}, {N_k}) "
            f"(|S_g|, C(k+L-1, L-1)), got {np.shape(policy_k)} of dtype {arr.dtype}"
        )
    if arr.min() < 0 or arr.max() >= mdp.n_actions:
        raise ValueError(f"policy_k: expected actions in range({mdp.n_actions})")
    return arr.astype(np.intp)


def execution_value(
    mdp: GlobalLocalMDP,
    n: int,
    k: int,
    policy_k: np.ndarray,
    *,
    subsets: str = "fresh",
    max_states: int = MAX_STATES,
) -> np.ndarray:
    """Exact value ``(S_g, N_n)`` of Algorithm 2 with the k-agent table ``policy_k[S_g, N_k]``
    on n agents, for three ways of choosing whose counts the table reads:

    * ``"fresh"`` (Algorithm 2): a new uniform k-subset without replacement at every step,
      ``π(a|s_g,c_n) = Σ_{c_k} H(c_k|c_n) 1{policy_k(s_g,c_k) = a}``;
    * ``"replace"``: k agents drawn uniformly *with* replacement at every step (multinomial law);
    * ``"fixed"``: one uniform k-subset drawn at the start of the episode and kept. Exact on the
      product space ``(s_g, c_Δ, c_rest)`` (the two groups move independently given s_g), then
      averaged over the first draw: ``V(s_g, c_n) = Σ_{c_k} H(c_k|c_n) W(s_g, c_k, c_n − c_k)``.
    """
    mdp = _check_mdp(mdp)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=None if subsets == "replace" else n)
    if subsets not in SUBSET_MODES:
        raise ValueError(f"subsets: expected one of {SUBSET_MODES}, got {subsets!r}")
    policy_k = _check_policy_k(mdp, k, policy_k)
    S_g, A, L = mdp.n_global, mdp.n_actions, mdp.L
    sn = CountSpace(n, L)
    H = subset_count_law(n, k, L, replace=subsets == "replace")  # (N_n, N_k)
    onehot = np.eye(A)[policy_k]  # (S_g, N_k, A)
    if subsets != "fixed":
        pi = np.einsum("ij,gja->gia", H, onehot)
        return evaluate_on_counts(mdp, n, pi, max_states=max_states)
    sk, sr = CountSpace(k, L), CountSpace(n - k, L)
    _check_size("(s_g, c_subset, c_rest)", S_g * sk.size * sr.size, max_states)
    Kk, Kr = _kernel(mdp, k), _kernel(mdp, n - k)
    # reward r_g(s_g, a) + (1/n) Σ_x (c_Δ[x] + c_rest[x]) r_l(x, s_g), action a = policy_k(s_g, c_Δ)
    loc_k = sk.counts @ mdp.r_l / n  # (N_k, S_g)
    loc_r = sr.counts @ mdp.r_l / n  # (N_r, S_g)
    r = (mdp.r_g[np.arange(S_g)[:, None], policy_k] + loc_k.T)[:, :, None] + loc_r.T[:, None, :]
    Pg = mdp.P_g[np.arange(S_g)[:, None], policy_k]  # (S_g, N_k, S_g')
    P = np.einsum("gis,gij,gab->giasjb", Pg, Kk, Kr).reshape(S_g * sk.size * sr.size, -1)
    W = np.linalg.solve(np.eye(P.shape[0]) - mdp.gamma * P, r.ravel())
    W = W.reshape(S_g, sk.size, sr.size)
    # V(s_g, c_n) = Σ_{c_k <= c_n} H(c_k | c_n) W(s_g, c_k, c_n − c_k)
    diff = sn.counts[:, None, :].astype(np.int64) - sk.counts[None, :, :]  # (N_n, N_k, L)
    ok = (diff >= 0).all(axis=2)
    rest = np.zeros(ok.shape, dtype=np.int64)
    rest[ok] = sr.index(diff[ok])
    Wg = W[:, np.arange(sk.size)[None, :], rest]  # (S_g, N_n, N_k)
    return np.einsum("ij,gij->gi", H, np.where(ok[None], Wg, 0.0))


@dataclass(frozen=True)
class GapDecomposition:
    """The gap ``V* − V^{π̂_{k,m,T}}`` of Algorithm 2 split exactly into four parts.

    Value arrays are ``(S_g, N_n)`` on the n-agent count space; ``mu`` weighs the start states
    (default: uniform over the joint states ``S_g × S_l^n``). Scalars are ``Σ mu · (…)``.
    ``eps`` is the Bellman noise ``||Q̂_{k,m} − Q*_k||_∞`` (0 when ``m`` is None) and
    ``eps_T = ||Q̂_{k,m,T} − Q̂_{k,m}||_∞`` (0 when ``T`` is None)."""

    n: int
    k: int
    m: int | None
    T: int | None
    mu: np.ndarray
    v_star: np.ndarray
    v_mean: np.ndarray
    v_exact: np.ndarray
    v_fixed_point: np.ndarray
    v_learned: np.ndarray
    eps: float
    eps_T: float

    def _avg(self, v: np.ndarray) -> float:
        return float(np.sum(self.mu * v))

    @property
    def mismatch(self) -> float:
        """``V* − V_mean``: acting on the k-agent values ``Q*_k`` instead of ``Q*_n``."""
        return self._avg(self.v_star - self.v_mean)

    @property
    def sampling(self) -> float:
        """``V_mean − V_exact``: one random subset's counts instead of the average over subsets."""
        return self._avg(self.v_mean - self.v_exact)

    @property
    def noise(self) -> float:
        """``V_exact − V_fixed_point``: the sampled operator's fixed point instead of ``Q*_k``."""
        return self._avg(self.v_exact - self.v_fixed_point)

    @property
    def truncation(self) -> float:
        """``V_fixed_point − V_learned``: T sweeps instead of the fixed point."""
        return self._avg(self.v_fixed_point - self.v_learned)

    @property
    def total(self) -> float:
        """``V* − V_learned``: the gap of what SUBSAMPLE-Q returns, run by Algorithm 2."""
        return self._avg(self.v_star - self.v_learned)

    @property
    def parts(self) -> dict[str, float]:
        """The four parts by name (they sum to :attr:`total`)."""
        return {
            "mismatch": self.mismatch,
            "sampling": self.sampling,
            "noise": self.noise,
            "truncation": self.truncation,
        }


def uniform_joint_weights(mdp: GlobalLocalMDP, n: int) -> np.ndarray:
    """``mu[S_g, N_n]``: the uniform law on the joint states ``S_g × S_l^n`` seen on count
    vectors, ``mu(s_g, c) = n! / Π_x c[x]! / (|S_g| L^n)`` (sums to 1)."""
    mdp = _check_mdp(mdp)
    return _uniform_joint(mdp, CountSpace(check_int("n", n, low=1), mdp.L))


def _uniform_joint(mdp: GlobalLocalMDP, space: CountSpace) -> np.ndarray:
    c = space.counts.astype(np.int64)
    fact = np.array([factorial(v) for v in range(space.k + 1)], dtype=float)
    w = factorial(space.k) / np.prod(fact[c], axis=1) / float(space.L) ** space.k
    return np.broadcast_to(w / mdp.n_global, (mdp.n_global, space.size)).copy()


def decompose_gap(
    mdp: GlobalLocalMDP,
    n: int,
    k: int,
    *,
    m: int | None,
    T: int | None,
    rng: np.random.Generator | int,
    mu: np.ndarray | None = None,
    max_states: int = MAX_STATES,
    fixed_point_tol: float = 1e-12,
) -> GapDecomposition:
    """Split the gap of Algorithm 2 run with SUBSAMPLE-Q's ``π̂_{k,m,T}`` on n agents into
    k-versus-n mismatch, subset sampling, Bellman noise and truncation (see the module
    docstring); every value is exact (linear solves), nothing is simulated.

    ``m=None`` uses the exact operator (noise 0); ``T=None`` uses the fixed point (truncation
    0). The fixed point of ``T̂_{k,m}`` and the T-sweep table share the same m samples (one seed
    drawn from ``rng``). ``mu[S_g, N_n]``: weights of the start states (non-negative, sum 1)."""
    mdp = _check_mdp(mdp)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)
    if m is not None:
        m = check_int("m", m, low=1)
    if T is not None:
        T = check_int("T", T, low=1)
    space = CountSpace(n, mdp.L)
    _check_size("(s_g, c)", mdp.n_global * space.size, max_states)
    if mu is None:
        mu = _uniform_joint(mdp, space)
    else:
        mu = as_array("mu", mu, shape=(mdp.n_global, space.size), nonnegative=True)
        if abs(mu.sum() - 1.0) > 1e-9:
            raise ValueError(f"mu: expected weights summing to 1, got a sum of {mu.sum():.6g}")
    seed = int(make_rng(rng).integers(2**62))
    star_k = _q_star(mdp, k)
    if m is None:
        fixed = star_k
        learned = star_k if T is None else _exact_sweeps(mdp, k, T)
    else:
        fixed = subsample_q(mdp, k, m=m, T=1_000_000, tol=fixed_point_tol, rng=seed)
        learned = fixed if T is None else subsample_q(mdp, k, m=m, T=T, rng=seed)
    v_star, _ = optimal_on_counts(mdp, n, max_states=max_states)
    H = subset_count_law(n, k, mdp.L)
    q_bar = np.einsum("ij,gja->gia", H, star_k.q)  # Σ_{c_k} H(c_k|c_n) Q*_k(s_g, c_k, a)
    v_mean = evaluate_on_counts(
        mdp, n, np.eye(mdp.n_actions)[q_bar.argmax(axis=2)], max_states=max_states
    )

    def run(res) -> np.ndarray:
        return execution_value(mdp, n, k, res.policy, max_states=max_states)

    v_exact = run(star_k)
    v_fixed = v_exact if fixed is star_k else run(fixed)
    v_learned = v_fixed if learned is fixed else run(learned)
    return GapDecomposition(
        n=n,
        k=k,
        m=m,
        T=T,
        mu=mu,
        v_star=v_star,
        v_mean=v_mean,
        v_exact=v_exact,
        v_fixed_point=v_fixed,
        v_learned=v_learned,
        eps=float(np.max(np.abs(fixed.q - star_k.q))),
        eps_T=float(np.max(np.abs(learned.q - fixed.q))),
    )


def _exact_sweeps(mdp: GlobalLocalMDP, k: int, T: int):
    """T sweeps of the exact operator from ``Q_0 = 0`` (the truncation of ``m = ∞``)."""
    from rlcourse.subsample.planning import QResult, mean_field_bellman_update

    space = CountSpace(k, mdp.L)
    K = _kernel(mdp, k)
    r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    Q = np.zeros_like(r_k)
    for _ in range(T):  # sweeps
        Q = mean_field_bellman_update(Q, r_k, K, mdp.P_g, mdp.gamma)
    return QResult(Q, space, None, T, "mean_field_sweeps")


@dataclass(frozen=True)
class SameHistogramMismatch:
    """``Q*_k`` against ``Q*_n`` at the same histogram (``F_Δ = F_[n]``, TV = 0): over the
    ``(s_g, c_n)`` whose histogram a k-subset can match exactly (``k c_n / n`` integral),
    ``max_diff = max |Q*_k(s_g, k c_n/n, a) − Q*_n(s_g, c_n, a)|`` and ``action_differs`` the
    fraction of those states whose greedy actions differ."""

    n: int
    k: int
    states: int
    max_diff: float
    action_differs: float


def same_histogram_mismatch(mdp: GlobalLocalMDP, n: int, k: int) -> SameHistogramMismatch:
    """Compare the exact ``Q*_k`` and ``Q*_n`` where the k-agent histogram equals the
    population's: a nonzero difference is the k-versus-n mismatch that no concentration
    bound removes."""
    mdp = _check_mdp(mdp)
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n)
    sn, sk = CountSpace(n, mdp.L), CountSpace(k, mdp.L)
    scaled = sn.counts.astype(np.int64) * k
    match = np.all(scaled % n == 0, axis=1)
    idx_k = sk.index(scaled[match] // n)
    qn, qk = _q_star(mdp, n).q, _q_star(mdp, k).q
    a, b = qn[:, match], qk[:, idx_k]
    return SameHistogramMismatch(
        n=n,
        k=k,
        states=int(mdp.n_global * match.sum()),
        max_diff=float(np.max(np.abs(a - b))),
        action_differs=float(np.mean(a.argmax(axis=2) != b.argmax(axis=2))),
    )
