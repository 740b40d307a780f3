"""The memory guard of SUBSAMPLE-Q: ``estimate_bytes`` is within 1.25x of the peak that
``subsample_q`` really allocates (traced), and a run that would not fit is refused at once,
before anything large is allocated, with a message in gigabytes."""

import time
import tracemalloc
from math import comb

import pytest

from rlcourse.subsample import GlobalLocalMDP, envs, subsample_q, subsample_q_bytes


def _estimate(mdp: GlobalLocalMDP, k: int, m: int, workers: int, tol: bool = False) -> float:
    return subsample_q_bytes(mdp, k, m, workers=workers, tol=tol)


def _traced_peak(mdp: GlobalLocalMDP, k: int, m: int, workers: int, tol: float | None) -> int:
    tracemalloc.start()
    try:
        subsample_q(mdp, k, m=m, T=3, rng=0, workers=workers, tol=tol)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


GRID = [  # (system, k, m): L = 2..10, deterministic and random global moves, both samplers
    ("queueing", 150, 5),
    ("queueing", 250, 12),
    ("queueing", 40, 200),
    ("random L=2", 2000, 50),
    ("random L=5", 22, 8),
    ("random L=8", 11, 6),
    ("random L=10", 7, 10),
    ("demand response", 4, 30),
]


def _system(name: str) -> GlobalLocalMDP:
    if name == "queueing":
        return envs.queueing()
    if name == "demand response":
        return envs.demand_response()
    return envs.random_mdp(3, 3, int(name.split("=")[1]), rng=1)


@pytest.mark.parametrize("workers, tol", [(1, None), (2, 1e-9)])
@pytest.mark.parametrize("name, k, m", GRID)
def test_estimate_is_within_a_quarter_of_the_traced_peak(name, k, m, workers, tol):
    mdp = _system(name)
    peak = _traced_peak(mdp, k, m, workers, tol)
    estimate = _estimate(mdp, k, m, workers, tol is not None)
    assert peak > 3e6  # big enough that the tables, not Python objects, set the peak
    assert peak <= 1.25 * estimate, (peak / 1e6, estimate / 1e6)
    # one thread: a definite peak; two: the estimate counts both threads' chunks at once,
    # the traced peak depends on how they happened to overlap
    low = 1.25 if workers == 1 else 1.5
    assert peak >= estimate / low, (peak / 1e6, estimate / 1e6)


@pytest.mark.parametrize(
    "mdp, k, m",
    [
        (envs.random_mdp(5, 3, 10, rng=0), 21, 10),  # C(30, 9) = 14.3 M count vectors
        (envs.queueing(), 5421, 10),  # C(5423, 2) = 14.7 M count vectors
    ],
)
def test_guard_refuses_at_once_what_would_not_fit(mdp, k, m):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=r"needs about [\d.]+ GB; max_bytes allows 8 GB"):
            subsample_q(mdp, k, m=m, T=5, rng=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5.0  # refused before any work (generous for CI)
    assert peak < 1e6  # nothing large was allocated
    assert _estimate(mdp, k, m, workers=1) > 8e9


def test_guard_counts_what_the_old_estimate_left_out():
    """The side-by-side rows, the sampler and the second copy of Q are in the estimate: it
    exceeds the bare tables (Q, r_k, next_c)."""
    mdp = envs.queueing()
    N = comb(300 + 2, 2)
    bare = 2 * 8.0 * 4 * N * 3 + 4.0 * 4 * N * 10
    assert _estimate(mdp, 300, 10, workers=2) > 1.5 * bare
    with pytest.raises(ValueError, match="max_bytes allows 0.01 GB"):
        subsample_q(mdp, 300, m=10, T=2, rng=0, max_bytes=1e7)
