"""Single-agent MDP basics against loops and brute-force policy enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rlcourse import mdp
from rlcourse.exercises.lesson00 import random_mdp


def test_discounted_return_matches_a_loop():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(3, 12))
    loop = np.array([sum(0.7**t * row[t] for t in range(12)) for row in r])
    assert np.allclose(mdp.discounted_return(r, 0.7), loop)
    assert mdp.discounted_return([1.0, 1.0], 1.0) == 2.0
    assert mdp.discounted_return([5.0, 1.0], 0.0) == 5.0


def test_bellman_backup_matches_loops():
    rng = np.random.default_rng(2)
    P, r = random_mdp(rng, 4, 3)
    V = rng.normal(size=4)
    Q = mdp.bellman_backup(P, r, V, 0.9)
    for s, a in itertools.product(range(4), range(3)):
        assert np.isclose(Q[s, a], r[s, a] + 0.9 * sum(P[s, a, t] * V[t] for t in range(4)))


def test_value_iteration_equals_best_deterministic_policy():
    rng = np.random.default_rng(3)
    S, A, gamma = 3, 2, 0.8
    P, r = random_mdp(rng, S, A)
    res = mdp.value_iteration(P, r, gamma, tol=1e-13)
    best = np.full(S, -np.inf)
    for pi in itertools.product(range(A), repeat=S):
        idx = np.arange(S), np.array(pi)
        V_pi = np.linalg.solve(np.eye(S) - gamma * P[idx], r[idx])
        best = np.maximum(best, V_pi)
    assert np.allclose(res.V, best, atol=1e-10)
    idx = np.arange(S), res.policy
    assert np.allclose(np.linalg.solve(np.eye(S) - gamma * P[idx], r[idx]), best, atol=1e-10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mdp.discounted_return(np.ones(3), 1.5), "gamma: expected a discount in"),
        (lambda: mdp.discounted_return(3.0, 0.5), "rewards: expected an array with at least 1"),
        (lambda: mdp.discounted_return([1.0, np.nan], 0.5), "rewards: expected finite"),
        (
            lambda: mdp.bellman_backup(np.ones((2, 2, 3)), np.ones((2, 2)), np.ones(2), 0.5),
            "P: expected shape",
        ),
        (
            lambda: mdp.bellman_backup(np.ones((2, 1, 2)), np.ones((2, 1)), np.ones(2), 0.5),
            "P: expected probabilities summing to 1",
        ),
        (
            lambda: mdp.bellman_backup(np.full((2, 1, 2), 0.5), np.ones((2, 2)), np.ones(2), 0.5),
            r"r: expected shape \(2, 1\)",
        ),
        (
            lambda: mdp.bellman_backup(np.full((2, 1, 2), 0.5), np.ones((2, 1)), np.ones(3), 0.5),
            r"V: expected shape \(2,\)",
        ),
        (
            lambda: mdp.value_iteration(np.full((2, 1, 2), 0.5), np.ones((2, 1)), 1.0),
            r"gamma: expected a number in \(0.0, 1.0\)",
        ),
        (
            lambda: mdp.value_iteration(np.full((2, 1, 2), 0.5), np.ones((2, 1)), 0.5, max_iter=0),
            "max_iter: expected an integer >= 1",
        ),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
