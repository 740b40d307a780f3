"""The readable Bellman update (``planning.sampled_bellman_update``, the equation as written)
and the fast kernel (``_kernel.bellman_sweep``: plain gather for small tables; side-by-side
value rows for deterministic global moves; flat gather otherwise; threaded chunks) return the
same numbers, and both equal the per-entry definition."""

import numpy as np
import pytest
from subsample_reference import loop_update

from rlcourse.subsample import (
    GlobalLocalMDP,
    _kernel,
    envs,
    sample_next_globals,
    sampled_bellman_update,
    subsample_q,
)


@pytest.fixture(autouse=True, params=["plain", "fast"])
def sweep_path(request, monkeypatch):
    """Run every test of this file on both paths of the kernel."""
    monkeypatch.setattr(_kernel, "SMALL_SWEEP", 10**12 if request.param == "plain" else 0)
    return request.param


def _deterministic_mdp(S_g, A, L, seed):
    """Random system whose global move is a point mass (random target per (s_g, a_g))."""
    rng = np.random.default_rng(seed)
    base = envs.random_mdp(S_g, A, L, rng=seed)
    P_g = np.eye(S_g)[rng.integers(0, S_g, (S_g, A))]
    return GlobalLocalMDP(P_g, base.P_l, base.r_g, base.r_l, 0.9)


def _kernel_sweep(Q, r_k, next_g, next_c, gamma, dtype=np.float64, workers=2):
    return _kernel.bellman_sweep(Q, r_k, next_g, next_c, gamma, workers=workers, value_dtype=dtype)


@pytest.mark.parametrize("S_g, A", [(1, 1), (2, 3), (3, 2), (5, 3), (6, 6), (9, 9)])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("moves", ["deterministic", "random"])
def test_readable_and_fast_updates_equal_the_per_entry_loop(S_g, A, dtype, tol, moves):
    if moves == "deterministic":
        mdp = _deterministic_mdp(S_g, A, 3, seed=S_g * 10 + A)
    else:
        mdp = envs.random_mdp(S_g, A, 3, rng=S_g * 10 + A)
    rng = np.random.default_rng(1)
    N, m = 11, 5
    next_g = sample_next_globals(mdp, N, m, 0)
    if S_g > 1:  # (one global state is always a deterministic move)
        assert (next_g.strides[1] == 0) == (moves == "deterministic")  # selects the path
    next_c = rng.integers(0, N, (S_g, N, m)).astype(np.int32)
    Q, r_k = rng.normal(size=(2, S_g, N, A))
    expect = loop_update(Q, r_k, next_g, next_c, 0.9)
    readable = sampled_bellman_update(Q, r_k, next_g, next_c, 0.9, value_dtype=dtype)
    np.testing.assert_allclose(readable, expect, atol=tol, rtol=0)
    sample_major = np.ascontiguousarray(next_c.transpose(0, 2, 1)).transpose(0, 2, 1)
    for layout in (next_c, sample_major):
        fast = _kernel_sweep(Q, r_k, next_g, layout, 0.9, dtype)
        np.testing.assert_allclose(fast, readable, atol=1e-12 if dtype == np.float64 else tol)
    # a materialised next_g (no broadcast view) takes the general gather: same numbers
    dense = _kernel_sweep(Q, r_k, np.ascontiguousarray(next_g), next_c, 0.9)
    np.testing.assert_allclose(dense, expect, atol=1e-12, rtol=0)


@pytest.mark.parametrize("chunk_split", [False, True])
@pytest.mark.parametrize("moves", ["deterministic", "random"])
def test_sweep_across_chunks_and_threads(monkeypatch, chunk_split, moves):
    if chunk_split:  # many chunks, threaded
        monkeypatch.setattr(_kernel, "CHUNK_ROWS", 7)
        monkeypatch.setattr(_kernel, "FILL_ROWS", 50)
    mdp = envs.demand_response() if moves == "deterministic" else envs.random_mdp(5, 3, 4, rng=3)
    rng = np.random.default_rng(2)
    N, m = 300, 6  # with CHUNK_ROWS = 7: 43 gather chunks and 6 value-table chunks per s_g
    next_g = sample_next_globals(mdp, N, m, 0)
    next_c = rng.integers(0, N, (5, N, m)).astype(np.int32)
    Q, r_k = rng.normal(size=(2, 5, N, 3))
    expect = loop_update(Q, r_k, next_g, next_c, 0.9)
    for dtype, tol in [(np.float64, 1e-12), (np.float32, 1e-5)]:
        readable = sampled_bellman_update(Q, r_k, next_g, next_c, 0.9, value_dtype=dtype)
        np.testing.assert_allclose(readable, expect, atol=tol, rtol=0)
        for workers in (1, 2, 3):
            got = _kernel_sweep(Q, r_k, next_g, next_c, 0.9, dtype, workers)
            np.testing.assert_allclose(got, readable, atol=1e-12, rtol=0)


@pytest.mark.parametrize("mdp", [envs.demand_response(), envs.random_mdp(3, 2, 3, rng=4)])
def test_subsample_q_runs_the_readable_update(mdp):
    """subsample_q (fast kernel) equals T applications of the readable update."""
    res = subsample_q(mdp, 2, m=4, T=6, rng=0)
    space = res.space
    rng = np.random.default_rng(0)
    g_rng, c_rng = rng.spawn(2)
    from rlcourse.subsample import sample_next_counts, subsystem_reward

    next_c = sample_next_counts(mdp, space, 4, c_rng)
    next_g = sample_next_globals(mdp, space.size, 4, g_rng)
    r_k = subsystem_reward(mdp.r_g, mdp.r_l, space.counts)
    Q = np.zeros_like(r_k)
    for _ in range(6):
        Q = sampled_bellman_update(Q, r_k, next_g, next_c, mdp.gamma)
    np.testing.assert_allclose(res.q, Q, atol=1e-12, rtol=0)


@pytest.mark.parametrize("mdp", [envs.demand_response(), envs.random_mdp(3, 2, 3, rng=4)])
def test_float32_value_table_agrees_with_float64(mdp):
    a = subsample_q(mdp, 2, m=4, T=30, rng=0)
    b = subsample_q(mdp, 2, m=4, T=30, rng=0, value_dtype=np.float32)
    scale = np.abs(a.q).max()
    np.testing.assert_allclose(b.q, a.q, atol=1e-6 * scale, rtol=0)
    with pytest.raises(ValueError, match="value_dtype"):
        subsample_q(mdp, 2, m=4, T=3, rng=0, value_dtype=np.int32)
