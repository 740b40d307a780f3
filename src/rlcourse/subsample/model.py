"""The global-local MDP of SUBSAMPLE-Q and its batched simulator.

One global agent (state ``s_g``, action ``a_g``) and n local agents (states ``s_i``, no
actions). Transitions are independent given the current state:

    s_g' ~ P_g(. | s_g, a_g),      s_i' ~ P_l(. | s_i, s_g)   for every i,

and the reward is ``r(s, a_g) = r_g(s_g, a_g) + (1/n) Σ_i r_l(s_i, s_g)``.
Tabular arrays: ``P_g[s_g, a_g, s_g']``, ``P_l[x, s_g, x']``, ``r_g[s_g, a_g]``, ``r_l[x, s_g]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rlcourse._validate import as_array, check_open_interval, check_stochastic, make_rng

__all__ = ["GlobalLocalMDP", "sample_categorical", "step"]


@dataclass(frozen=True)
class GlobalLocalMDP:
    """Tabular global-local MDP; arrays are validated and made read-only on construction."""

    P_g: np.ndarray
    P_l: np.ndarray
    r_g: np.ndarray
    r_l: np.ndarray
    gamma: float
    cdf_g: np.ndarray = field(init=False, repr=False, compare=False)
    cdf_l: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        P_g = as_array("P_g", self.P_g, ndim=3)
        S_g, A_g = P_g.shape[0], P_g.shape[1]
        if P_g.shape[2] != S_g or S_g < 1 or A_g < 1:
            raise ValueError(
                f"P_g: expected shape (|S_g|, |A_g|, |S_g|) with |S_g|, |A_g| >= 1, got {P_g.shape}"
            )
        check_stochastic("P_g", P_g)
        P_l = as_array("P_l", self.P_l, ndim=3)
        L = P_l.shape[0]
        if P_l.shape != (L, S_g, L) or L < 1:
            raise ValueError(f"P_l: expected shape (L, |S_g|={S_g}, L), got {P_l.shape}")
        check_stochastic("P_l", P_l)
        r_g = as_array("r_g", self.r_g, shape=(S_g, A_g))
        r_l = as_array("r_l", self.r_l, shape=(L, S_g))
        gamma = check_open_interval("gamma", self.gamma, 0.0, 1.0)
        cdf_g, cdf_l = _cdf(P_g), _cdf(P_l)
        for name, arr in [("P_g", P_g), ("P_l", P_l), ("r_g", r_g), ("r_l", r_l)]:
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "cdf_g", cdf_g)
        object.__setattr__(self, "cdf_l", cdf_l)

    @property
    def n_global(self) -> int:
        """``|S_g|``."""
        return self.P_g.shape[0]

    @property
    def n_actions(self) -> int:
        """``|A_g|``."""
        return self.P_g.shape[1]

    @property
    def L(self) -> int:
        """``L = |S_l|``."""
        return self.P_l.shape[0]


def _cdf(P: np.ndarray) -> np.ndarray:
    """Row CDFs with the last entry exactly 1 (so ``u < 1`` never falls off the end)."""
    cdf = np.cumsum(P, axis=-1)
    cdf[..., -1] = 1.0
    cdf = np.minimum(cdf, 1.0)
    cdf.setflags(write=False)
    return cdf


def sample_categorical(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: ``x = #{j : cdf[..., j] <= u}`` for ``u ~ U[0, 1)``.

    ``cdf[..., K]`` non-decreasing rows ending at 1, ``u`` of shape ``cdf.shape[:-1]``.
    State x is returned with probability ``cdf[x] - cdf[x-1]`` (zero-probability states never).
    """
    K = cdf.shape[-1]
    if K > 8:
        return (cdf <= u[..., None]).sum(axis=-1)
    # few states: one comparison per column, ~5x faster than a sum over a short last axis
    x = np.zeros(np.broadcast_shapes(cdf.shape[:-1], u.shape), dtype=np.int_)
    for j in range(K):
        x += cdf[..., j] <= u
    return x


def step(
    mdp: GlobalLocalMDP,
    s_g: np.ndarray,
    a_g: np.ndarray,
    s_local: np.ndarray,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of a batch of B n-agent systems.

    ``s_g[B]``, ``a_g[B]``, ``s_local[B, n]`` -> ``(s_g'[B], s_local'[B, n], r[B])`` with
    ``r = r_g(s_g, a_g) + (1/n) Σ_i r_l(s_i, s_g)``. Draws exactly ``B`` then ``B*n`` uniforms
    (whatever the actions), so two calls with equal seeds share their random numbers.
    """
    rng = make_rng(rng)
    s_g = _states("s_g", s_g, mdp.n_global, ndim=1)
    B = s_g.shape[0]
    a_g = _states("a_g", a_g, mdp.n_actions, ndim=1)
    if a_g.shape != (B,):
        raise ValueError(f"a_g: expected shape ({B},) like s_g, got {a_g.shape}")
    s_local = _states("s_local", s_local, mdp.L, ndim=2)
    if s_local.shape[0] != B or s_local.shape[1] < 1:
        raise ValueError(f"s_local: expected shape ({B}, n) with n >= 1, got {s_local.shape}")
    return _step(mdp, s_g, a_g, s_local, rng)


def _step(
    mdp: GlobalLocalMDP,
    s_g: np.ndarray,
    a_g: np.ndarray,
    s_local: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`step` without validation."""
    r = mdp.r_g[s_g, a_g] + mdp.r_l[s_local, s_g[:, None]].mean(axis=1)
    u_g = rng.random(s_g.shape[0])
    u_l = rng.random(s_local.shape)
    s_g_next = sample_categorical(mdp.cdf_g[s_g, a_g], u_g)
    s_local_next = sample_categorical(mdp.cdf_l[s_local, s_g[:, None]], u_l)
    return s_g_next, s_local_next.astype(s_local.dtype, copy=False), r


def _states(name: str, x: object, size: int, *, ndim: int | None = None) -> np.ndarray:
    """Integer states in ``range(size)``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integer states, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ValueError(
            f"{name}: expected values in range({size}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.intp, copy=False)
