"""Count vectors (histograms) of k exchangeable local agents over L local states.

A count vector ``c ∈ N^L`` with ``Σ c = k`` is the same object as the sorted tuple of the k
agents' states ``x_(0) <= ... <= x_(k-1)`` (a multiset). Ranking uses the combinatorial number
system: with ``y_i = x_(i) + i`` (strictly increasing in ``[0, k+L-2]``)

    rank(c) = Σ_i C(y_i, i+1)                                    (from the sorted agents)
            = Σ_{x=1}^{L-1} [C(x + P_x, x) - C(x + P_{x-1}, x)]  (from the counts, P = cumsum c)

a bijection onto ``range(C(k+L-1, L-1))``. Both forms use one precomputed table of binomial
coefficients, so ranking is a handful of vectorised look-ups (no dictionary).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

import numpy as np

from rlcourse._validate import as_array, check_int, describe

__all__ = [
    "CountSpace",
    "binomial_table",
    "counts_from_states",
    "expand_counts",
    "rank_counts",
    "rank_sorted_states",
]

MAX_SIZE = 2**31 - 1  # count indices are stored as int32


def binomial_table(n_max: int, r_max: int) -> np.ndarray:
    """``T[a, b] = C(a, b)`` for ``0 <= a <= n_max``, ``0 <= b <= r_max`` (int64, Pascal)."""
    n_max = check_int("n_max", n_max, low=0)
    r_max = check_int("r_max", r_max, low=0)
    T = np.zeros((n_max + 1, r_max + 1), dtype=np.int64)
    T[:, 0] = 1
    for a in range(1, n_max + 1):  # Pascal's rule, one row per a
        T[a, 1:] = T[a - 1, 1:] + T[a - 1, :-1]
    return T


def rank_sorted_states(x_sorted: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Rank of multisets given as sorted agent states ``x_sorted[..., k]``:
    ``Σ_i C(x_(i) + i, i + 1)``. No validation (hot path); ``table`` from
    ``binomial_table(k + L - 1, max(k, L - 1))``. Returns int64 of shape ``x_sorted.shape[:-1]``."""
    k = x_sorted.shape[-1]
    i = np.arange(k)
    ncol, flat = table.shape[1], table.ravel()
    return flat[(x_sorted.astype(np.intp) + i) * ncol + (i + 1)].sum(axis=-1)


def rank_counts(c: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Rank of count vectors ``c[..., L]``:
    ``Σ_{x=1}^{L-1} [C(x + P_x, x) - C(x + P_{x-1}, x)]`` with ``P = cumsum(c)``.
    No validation (hot path); same ranking as :func:`rank_sorted_states`."""
    L = c.shape[-1]
    P = np.cumsum(c, axis=-1, dtype=np.intp)
    x = np.arange(1, L)
    ncol, flat = table.shape[1], table.ravel()
    hi = flat[(x + P[..., 1:]) * ncol + x]  # C(x + P_x, x)
    lo = flat[(x + P[..., :-1]) * ncol + x]  # C(x + P_{x-1}, x)
    return (hi - lo).sum(axis=-1)


def expand_counts(counts: np.ndarray) -> np.ndarray:
    """Sorted agent states of count vectors: ``counts[N, L]`` (each row summing to k) ->
    ``states[N, k]`` with state x repeated ``c[x]`` times."""
    counts = np.asarray(counts)
    N, L = counts.shape
    k = int(counts[0].sum()) if N else 0
    flat = np.repeat(np.tile(np.arange(L, dtype=np.int16), N), counts.ravel())
    return flat.reshape(N, k)


def counts_from_states(states: np.ndarray, L: int) -> np.ndarray:
    """Count vectors of agent states: ``states[..., k]`` in ``range(L)`` -> ``c[..., L]``
    (``c[x] = #{i : states[i] = x}``), via one flat bincount."""
    states = np.asarray(states)
    lead = states.shape[:-1]
    rows = int(np.prod(lead, dtype=np.int64))
    flat = (np.arange(rows, dtype=np.int64) * L)[:, None] + states.reshape(rows, -1)
    c = np.bincount(flat.ravel(), minlength=rows * L)
    return c.reshape(*lead, L)


def _enumerate_counts(k: int, L: int) -> np.ndarray:
    """All count vectors of k agents over L states in rank order (``(N, L)`` int16): ordered
    by ``c[L-1]``, then ``c[L-2]``, ..., ascending; built one state at a time from the top."""
    cols: list[np.ndarray] = []
    rest = np.array([k], dtype=np.int64)  # agents not yet placed, per partial vector
    for _ in range(L - 1):  # states L-1 .. 1; each partial vector branches into 0..rest
        reps = rest + 1
        parent = np.repeat(np.arange(len(rest)), reps)
        value = np.arange(len(parent)) - np.repeat(np.cumsum(reps) - reps, reps)
        cols = [col[parent] for col in cols] + [value.astype(np.int16)]
        rest = rest[parent] - value
    cols.append(rest.astype(np.int16))  # state 0 takes the rest
    return np.stack(cols[::-1], axis=1)


@dataclass(frozen=True)
class CountSpace:
    """The ``C(k+L-1, L-1)`` count vectors of k agents over L local states, in rank order.

    ``counts[i]`` is the count vector of rank i and ``index(counts) == arange(size)``.
    ``agents[i]`` lists the k agents' (sorted) states of ``counts[i]``.
    """

    k: int
    L: int
    size: int = field(init=False)
    table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k = check_int("k", self.k, low=0)
        L = check_int("L", self.L, low=1)
        size = comb(k + L - 1, L - 1)
        if size > MAX_SIZE:
            raise ValueError(
                f"k, L: the count space C(k+L-1, L-1) = {size} exceeds {MAX_SIZE} "
                f"(int32 indices); got k={k}, L={L}"
            )
        table = binomial_table(k + L - 1, max(k, L - 1, 1))
        table.setflags(write=False)
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "L", L)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "table", table)

    @property
    def agents(self) -> np.ndarray:
        """``(size, k)`` sorted agent states of each count vector (int16), in rank order."""
        cached = self.__dict__.get("_agents")
        if cached is None:
            cached = expand_counts(self.counts)
            cached.setflags(write=False)
            self.__dict__["_agents"] = cached
        return cached

    @property
    def counts(self) -> np.ndarray:
        """``(size, L)`` count vectors in rank order (int16)."""
        cached = self.__dict__.get("_counts")
        if cached is None:
            cached = _enumerate_counts(self.k, self.L)
            cached.setflags(write=False)
            self.__dict__["_counts"] = cached
        return cached

    def index(self, c: np.ndarray) -> np.ndarray:
        """Rank of count vectors ``c[..., L]`` (non-negative ints summing to k) -> int64
        array of shape ``c.shape[:-1]``; a ``ValueError`` for anything else."""
        arr = np.asarray(c)
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"c: expected integer count vectors, got {describe(c)}")
        arr = as_array("c", arr, min_ndim=1, dtype=np.int64)
        if arr.shape[-1] != self.L:
            raise ValueError(
                f"c: expected count vectors of length L={self.L} on the last axis, "
                f"got shape {arr.shape}"
            )
        if np.any(arr < 0):
            raise ValueError(f"c: expected non-negative counts, got minimum {arr.min()}")
        sums = arr.sum(axis=-1)
        if np.any(sums != self.k):
            bad = sums[sums != self.k].ravel()[0]
            raise ValueError(f"c: expected counts summing to k={self.k}, got a sum of {bad}")
        return rank_counts(arr, self.table)
