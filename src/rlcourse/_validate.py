"""Validation at the public boundary: every failure is a ``ValueError`` naming the argument,
what was expected and what came."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_array",
    "check_int",
    "check_open_interval",
    "check_positive",
    "check_stochastic",
    "describe",
    "make_rng",
]


def describe(x: Any) -> str:
    """A short description of ``x`` for error messages (type, and shape for arrays)."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__} of length {len(x)}"
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def as_array(
    name: str,
    x: Any,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    min_ndim: int | None = None,
    finite: bool = True,
    nonnegative: bool = False,
    dtype: type = float,
) -> np.ndarray:
    """Convert ``x`` to an array of ``dtype`` and check its shape and values.

    ``shape`` may contain ``None`` for a free axis. Raises ``ValueError`` naming ``name``.
    """
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}: expected an array of numbers, got {describe(x)} ({exc})"
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected an array with at least {min_ndim} axes, got shape {arr.shape}"
        )
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == a for s, a in zip(shape, arr.shape, strict=False)
        )
        if not ok:
            want = str(tuple("any" if s is None else s for s in shape)).replace("'", "")
            raise ValueError(f"{name}: expected shape {want}, got shape {arr.shape}")
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf entries")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name}: expected non-negative entries, got minimum {arr.min()!r}")
    return arr


def check_stochastic(name: str, P: np.ndarray, *, axis: int = -1, atol: float = 1e-8) -> None:
    """Check that ``P`` is non-negative and sums to 1 along ``axis``."""
    if np.any(P < 0):
        raise ValueError(f"{name}: probabilities must be non-negative, got minimum {P.min()!r}")
    sums = P.sum(axis=axis)
    if not np.allclose(sums, 1.0, atol=atol, rtol=0.0):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(
            f"{name}: expected probabilities summing to 1 along axis {axis}, "
            f"got sums off by up to {worst:.3g}"
        )


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {describe(value)}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name}: expected an integer <= {high}, got {v}")
    return v


def check_open_interval(name: str, value: Any, low: float, high: float) -> float:
    """Return ``value`` as a float after checking ``low < value < high``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a number in ({low}, {high}), got {describe(value)}"
        ) from None
    if not (low < v < high):
        raise ValueError(f"{name}: expected a number in ({low}, {high}), got {v}")
    return v


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float after checking it is finite and > 0 (or >= 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive number, got {describe(value)}") from None
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name}: expected a finite {kind} number, got {v}")
    return v


def make_rng(rng: Any = None, *, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator``: pass one through, or build one from an int seed.

    ``None`` is refused on purpose: every random computation in the course is seeded.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"{name}: expected a numpy.random.Generator or a non-negative int seed, got {describe(rng)}"
    )
