"""The next-count sampler draws exactly ``c' = Σ_x Multinomial(c[x], P_l[x, s_g, .])``: both of
its methods (conditional binomials per occupied state; moving and counting the agents) match
the exact next-count kernel in a chi-square test, are seeded and do not depend on threads."""

import numpy as np
import pytest

from rlcourse.subsample import (
    CountSpace,
    GlobalLocalMDP,
    _kernel,
    count_kernel,
    envs,
    sample_next_counts,
)


def _sparse_mdp() -> GlobalLocalMDP:
    """L = 4 with zero-probability moves (skipped targets) and one absorbing state."""
    base = envs.random_mdp(2, 2, 4, rng=5)
    P_l = base.P_l.copy()
    P_l[0, :, 2:] = 0.0  # state 0 moves only to 0 or 1
    P_l[3] = np.eye(4)[3]  # state 3 is absorbing
    P_l[1, 1] = [0.0, 0.0, 0.0, 1.0]  # a point mass for one (x, s_g)
    P_l /= P_l.sum(axis=2, keepdims=True)
    return GlobalLocalMDP(base.P_g, P_l, base.r_g, base.r_l, 0.9)


def _chi_square(next_c: np.ndarray, K: np.ndarray) -> tuple[float, int, bool]:
    """Pooled chi-square statistic of the sampled indices against ``K[s_g, c, c']`` over every
    ``(s_g, c)``, its degrees of freedom, and whether any draw had probability zero."""
    S_g, N, m = next_c.shape
    stat, df, impossible = 0.0, 0, False
    for s in range(S_g):
        for i in range(N):
            seen = np.bincount(next_c[s, i], minlength=N)
            p = K[s, i]
            impossible |= bool(np.any(seen[p == 0] > 0))
            support = p > 0
            expect = m * p[support]
            stat += float(((seen[support] - expect) ** 2 / expect).sum())
            df += int(support.sum()) - 1
    return stat, df, impossible


def _chi2_quantile(df: int, z: float = 3.72) -> float:
    """Upper quantile of chi-square(df) at the normal quantile z (Wilson–Hilferty; z = 3.72
    is the 1e-4 tail)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * np.sqrt(c)) ** 3


@pytest.mark.parametrize("method", ["binomial", "agents"])
@pytest.mark.parametrize(
    "mdp, k",
    [
        (envs.random_mdp(2, 2, 3, rng=0), 4),
        (envs.queueing(), 3),
        (_sparse_mdp(), 3),
        (envs.toy(L=2), 6),
    ],
)
def test_sampled_next_counts_follow_the_exact_kernel(method, mdp, k):
    space = CountSpace(k, mdp.L)
    m = 4000
    next_c = sample_next_counts(mdp, space, m, rng=11, method=method)
    assert next_c.shape == (mdp.n_global, space.size, m) and next_c.dtype == np.int32
    stat, df, impossible = _chi_square(next_c, count_kernel(mdp.P_l, k))
    assert not impossible  # never a next count vector of probability zero
    assert stat < _chi2_quantile(df), (stat, df)
    assert stat > _chi2_quantile(df, z=-3.72), (stat, df)  # not suspiciously close either


@pytest.mark.parametrize("method", ["binomial", "agents"])
def test_sampler_is_seeded_and_independent_of_threads(method, monkeypatch):
    monkeypatch.setattr(_kernel, "SAMPLE_BUDGET", 64)  # many chunks: threads really run
    monkeypatch.setattr(_kernel, "AGENT_BUDGET", 256)
    mdp, space = envs.queueing(), CountSpace(12, 3)
    a = sample_next_counts(mdp, space, 5, rng=3, workers=1, method=method)
    b = sample_next_counts(mdp, space, 5, rng=3, workers=3, method=method)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_next_counts(mdp, space, 5, rng=4, method=method))


def test_method_is_chosen_by_cost():
    queue, dr = envs.queueing(), envs.demand_response()
    assert _kernel.sampler_method(queue.P_l, 2) == "agents"  # two agents: two moves
    assert _kernel.sampler_method(queue.P_l, 320) == "binomial"  # 3 binomials, not 320 moves
    assert _kernel.sampler_method(dr.P_l, 7) == "agents"  # L = 25: hundreds of binomials
    with pytest.raises(ValueError, match="method: expected 'binomial', 'agents'"):
        sample_next_counts(queue, CountSpace(2, 3), 3, 0, method="sort")


def test_point_masses_and_a_single_state():
    """Deterministic local moves give one next count vector; L = 1 has one count vector."""
    P_l = np.zeros((3, 1, 3))
    P_l[[0, 1, 2], 0, [1, 2, 2]] = 1.0  # 0 -> 1 -> 2 -> 2
    mdp = GlobalLocalMDP(np.ones((1, 1, 1)), P_l, np.zeros((1, 1)), np.zeros((3, 1)), 0.5)
    space = CountSpace(5, 3)
    want = space.index(
        np.stack([np.zeros(space.size), space.counts[:, 0], space.counts[:, 1:].sum(1)], 1).astype(
            int
        )
    )
    for method in ("binomial", "agents"):
        got = sample_next_counts(mdp, space, 4, rng=0, method=method)
        np.testing.assert_array_equal(got, np.broadcast_to(want[None, :, None], got.shape))
    one = GlobalLocalMDP(
        np.ones((1, 1, 1)), np.ones((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), 0.5
    )
    for method in ("binomial", "agents"):
        np.testing.assert_array_equal(
            sample_next_counts(one, CountSpace(4, 1), 3, 0, method=method), 0
        )


@pytest.mark.parametrize("K", [1, 2, 3, 8, 9, 25])
def test_sample_categorical_counts_the_cdf_entries_at_or_below_u(K):
    """``x = #{j : cdf[j] <= u}`` on both of its paths (a loop over few columns, a sum over
    many), with exact ties, zero-probability states and broadcasting; integer dtype."""
    from rlcourse.subsample import sample_categorical

    rng = np.random.default_rng(K)
    P = rng.random((6, 1, 5, K))
    P[P < 0.3] = 0.0
    P[..., -1] += 1e-3
    P /= P.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(P, axis=-1)
    cdf[..., -1] = 1.0
    u = rng.random((6, 4, 5))
    ties = np.take_along_axis(cdf[:, 0], rng.integers(0, K, size=(6, 5, 1)), axis=-1)[..., 0]
    u[:, 0] = np.where(ties < 1.0, ties, 0.0)  # u equal to a cdf entry counts that entry
    x = sample_categorical(cdf, u)
    assert x.shape == (6, 4, 5) and x.dtype.kind == "i"
    expected = np.zeros((6, 4, 5), dtype=int)
    for b, m, i in np.ndindex(6, 4, 5):
        expected[b, m, i] = sum(c <= u[b, m, i] for c in cdf[b, 0, i])
    np.testing.assert_array_equal(x, expected)
    assert x.max() <= K - 1  # u < 1 never falls off the end
    # a state of probability zero is never drawn
    drawn = np.take_along_axis(P[:, 0][:, None], x[..., None], axis=-1)[..., 0]
    assert np.all(drawn > 0)
