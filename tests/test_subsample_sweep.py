"""The sweep of SUBSAMPLE-Q equals the per-entry definition on both of its paths: the plain
gather used for small tables, and the fast one (deterministic global moves, side-by-side value
rows, float32 value tables, samples stored sample-major)."""

import numpy as np
import pytest
from subsample_reference import loop_update

from rlcourse.subsample import (
    GlobalLocalMDP,
    envs,
    sample_next_globals,
    sampled_bellman_update,
    subsample_q,
)


@pytest.fixture(autouse=True, params=["plain", "fast"])
def sweep_path(request, monkeypatch):
    """Run every test of this file on both paths of ``sampled_bellman_update``."""
    from rlcourse.subsample import planning

    monkeypatch.setattr(planning, "SMALL_SWEEP", 10**12 if request.param == "plain" else 0)
    return request.param


def _deterministic_mdp(S_g, A, L, seed):
    """Random system whose global move is a point mass (random target per (s_g, a_g))."""
    rng = np.random.default_rng(seed)
    base = envs.random_mdp(S_g, A, L, rng=seed)
    P_g = np.eye(S_g)[rng.integers(0, S_g, (S_g, A))]
    return GlobalLocalMDP(P_g, base.P_l, base.r_g, base.r_l, 0.9)


@pytest.mark.parametrize("S_g, A", [(1, 1), (2, 3), (3, 2), (5, 3), (6, 6), (9, 9)])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_deterministic_sweep_matches_per_entry_loop(S_g, A, dtype, tol):
    mdp = _deterministic_mdp(S_g, A, 3, seed=S_g * 10 + A)
    rng = np.random.default_rng(1)
    N, m = 11, 5
    next_g = sample_next_globals(mdp, N, m, 0)
    assert next_g.strides[1] == 0  # the broadcast view that selects the fast path
    next_c = rng.integers(0, N, (S_g, N, m)).astype(np.int32)
    Q, r_k = rng.normal(size=(2, S_g, N, A))
    expect = loop_update(Q, r_k, next_g, next_c, 0.9)
    got = sampled_bellman_update(Q, r_k, next_g, next_c, 0.9, value_dtype=dtype)
    np.testing.assert_allclose(got, expect, atol=tol, rtol=0)
    # same numbers with the samples stored sample-major, and on the general path
    T_layout = np.ascontiguousarray(next_c.transpose(0, 2, 1)).transpose(0, 2, 1)
    np.testing.assert_allclose(
        sampled_bellman_update(Q, r_k, next_g, T_layout, 0.9, value_dtype=dtype),
        expect,
        atol=tol,
        rtol=0,
    )
    np.testing.assert_allclose(
        sampled_bellman_update(Q, r_k, np.ascontiguousarray(next_g), next_c, 0.9),
        expect,
        atol=1e-12,
    )


@pytest.mark.parametrize("chunk_split", [False, True])
def test_sweep_across_chunks_and_threads(monkeypatch, chunk_split):
    from rlcourse.subsample import planning

    if chunk_split:
        monkeypatch.setattr(planning, "CHUNK_ROWS", 7)  # many chunks, threaded
    mdp = envs.demand_response()
    rng = np.random.default_rng(2)
    N, m = 300, 6  # with CHUNK_ROWS = 7: 43 gather chunks and 3 value-table chunks per s_g
    next_g = sample_next_globals(mdp, N, m, 0)
    next_c = rng.integers(0, N, (5, N, m)).astype(np.int32)
    Q, r_k = rng.normal(size=(2, 5, N, 3))
    expect = loop_update(Q, r_k, next_g, next_c, 0.9)
    for workers in (1, 2):
        got = sampled_bellman_update(Q, r_k, next_g, next_c, 0.9, workers=workers)
        np.testing.assert_allclose(got, expect, atol=1e-12, rtol=0)


@pytest.mark.parametrize("mdp", [envs.demand_response(), envs.random_mdp(3, 2, 3, rng=4)])
def test_float32_value_table_agrees_with_float64(mdp):
    a = subsample_q(mdp, 2, m=4, T=30, rng=0)
    b = subsample_q(mdp, 2, m=4, T=30, rng=0, value_dtype=np.float32)
    scale = np.abs(a.q).max()
    np.testing.assert_allclose(b.q, a.q, atol=1e-6 * scale, rtol=0)
    with pytest.raises(ValueError, match="value_dtype"):
        subsample_q(mdp, 2, m=4, T=3, rng=0, value_dtype=np.int32)
