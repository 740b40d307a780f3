"""Count spaces: ranking is a bijection, both ranking forms agree, bad inputs refused."""

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlcourse.subsample import (
    CountSpace,
    binomial_table,
    counts_from_states,
    expand_counts,
    rank_counts,
    rank_sorted_states,
)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 7), L=st.integers(1, 6))
def test_index_is_a_bijection_onto_range(k, L):
    space = CountSpace(k, L)
    assert space.size == comb(k + L - 1, L - 1)
    c = space.counts
    assert c.shape == (space.size, L)
    assert np.all(c >= 0) and np.all(c.sum(axis=1) == k)
    assert len({tuple(row) for row in c.tolist()}) == space.size  # all distinct
    np.testing.assert_array_equal(space.index(c), np.arange(space.size))


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 8), L=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_rank_from_agents_equals_rank_from_counts(k, L, seed):
    rng = np.random.default_rng(seed)
    states = np.sort(rng.integers(0, L, size=(20, k)), axis=1)
    space = CountSpace(k, L)
    c = counts_from_states(states, L)
    np.testing.assert_array_equal(rank_sorted_states(states, space.table), space.index(c))
    np.testing.assert_array_equal(rank_counts(c, space.table), space.index(c))
    np.testing.assert_array_equal(expand_counts(c), states)


def test_index_vectorised_over_leading_axes():
    space = CountSpace(3, 4)
    c = space.counts[:12].reshape(3, 4, 4)
    np.testing.assert_array_equal(space.index(c), np.arange(12).reshape(3, 4))


def test_binomial_table_matches_comb():
    T = binomial_table(12, 5)
    assert all(T[a, b] == comb(a, b) for a in range(13) for b in range(6))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([1, 1]), "length L=3"),
        (np.array([2, 2, -1]), "non-negative"),
        (np.array([1, 1, 0]), "summing to k=3"),
        (np.array([1.5, 1.5, 0.0]), "integer"),
        ("abc", "integer"),
    ],
)
def test_index_rejects_invalid_count_vectors(bad, match):
    with pytest.raises(ValueError, match=match):
        CountSpace(3, 3).index(bad)


def test_count_space_rejects_bad_sizes():
    with pytest.raises(ValueError, match="k"):
        CountSpace(-1, 3)
    with pytest.raises(ValueError, match="L"):
        CountSpace(2, 0)
    with pytest.raises(ValueError, match="exceeds"):
        CountSpace(40, 40)
