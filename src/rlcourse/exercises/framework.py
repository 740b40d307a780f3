"""The check framework: an :class:`Exercise` runs a student's object against the library's
reference on seeded random cases and returns a :class:`Result`.

Three outcomes: *not attempted* (the stub is untouched), *incorrect* (the first failing case,
with its inputs, the expected and the received value) and *correct*. Whatever the student's
code does — raise, loop forever, return NaN or the wrong shape — the checker reports it and
never raises itself.
"""

from __future__ import annotations

import copy
import signal
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlcourse.exercises.progress import record_check, record_hint
from rlcourse.exercises.result import Hint, Result, Status
from rlcourse.syllabus import load_syllabus

__all__ = [
    "Case",
    "Exercise",
    "Hint",
    "Result",
    "Status",
    "allclose",
    "exact",
]


class _Timeout(BaseException):
    """Raised inside student code when the time limit passes (BaseException, so a bare
    ``except Exception`` in student code cannot swallow it)."""


@dataclass(frozen=True)
class Case:
    """One set of arguments for the student's function; ``note`` says what it probes."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    note: str = ""


def _fmt(x: Any, limit: int = 400) -> str:
    """A short, stable text for a value in a feedback message."""
    if isinstance(x, np.ndarray):
        body = np.array2string(x, precision=4, threshold=24, edgeitems=3, suppress_small=True)
        text = f"array(shape={x.shape}, dtype={x.dtype}) {body}"
    elif isinstance(x, (float, np.floating)):
        text = f"{float(x):.6g}"
    elif isinstance(x, (np.integer, np.bool_)):
        text = repr(x.item())
    elif isinstance(x, (tuple, list)) and len(x) <= 20:
        inner = ", ".join(_fmt(v, limit) for v in x)
        text = f"({inner}{',' if len(x) == 1 else ''})" if isinstance(x, tuple) else f"[{inner}]"
    elif callable(x) and hasattr(x, "__name__"):
        text = f"<function {x.__name__}>"
    else:
        text = repr(x)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a value of type {type(x).__name__}"


# --------------------------------------------------------------------------------------------
# comparisons: (got, expected) -> None when they agree, else a sentence saying what differs


def allclose(rtol: float = 1e-6, atol: float = 1e-8) -> Callable[[Any, Any], str | None]:
    """Compare numbers or arrays: same shape, finite where expected is, ``np.allclose``."""

    def compare(got: Any, expected: Any) -> str | None:
        exp = np.asarray(expected)
        if got is None:
            return "your function returned None — did you forget a `return`?"
        if isinstance(got, (list, tuple)) and not isinstance(expected, (list, tuple)):
            got = np.asarray(got)
        try:
            g = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return f"expected numbers ({_describe(exp)}), got {_describe(got)}"
        if g.shape != exp.shape:
            return f"wrong shape: expected {exp.shape}, got {g.shape}"
        if np.isnan(g).any() and not np.isnan(exp).any():
            return f"got NaN in {int(np.isnan(g).sum())} entries"
        if not np.allclose(g, exp, rtol=rtol, atol=atol, equal_nan=True):
            diff = np.abs(g - exp)
            diff = np.where(np.isnan(diff), np.inf, diff)
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
            where = f" at index {tuple(int(i) for i in idx)}" if diff.ndim else ""
            return (
                f"values differ{where}: expected {float(exp[idx]):.6g}, got {float(g[idx]):.6g} "
                f"(tolerance rtol={rtol:g}, atol={atol:g})"
            )
        return None

    return compare


def exact() -> Callable[[Any, Any], str | None]:
    """Compare for exact equality (integers, index arrays, tuples)."""

    def compare(got: Any, expected: Any) -> str | None:
        if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
            g, e = np.asarray(got), np.asarray(expected)
            if g.shape != e.shape:
                return f"wrong shape: expected {e.shape}, got {g.shape}"
            if not np.array_equal(g, e):
                bad = int(np.sum(g != e))
                return f"{bad} entries differ"
            return None
        try:
            same = bool(got == expected)
        except Exception:  # noqa: BLE001 — comparing student objects may raise anything
            same = False
        return None if same else "values differ"

    return compare


# --------------------------------------------------------------------------------------------
# running student code with a time limit


def _call_with_timeout(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    """Call ``fn(*args, **kwargs)``; raise ``_Timeout`` once ``seconds`` have passed.

    Three ways, the first that this Python offers:

    1. on the main thread of a POSIX process (a Jupyter kernel, pytest), an interval timer
       (``SIGALRM``) interrupts the call;
    2. elsewhere the call runs in a daemon thread that is abandoned when it overruns (it
       cannot be killed, but the checker returns);
    3. where there are neither signal timers nor threads (a browser kernel on Pyodide), a
       trace function checks the clock at every line of Python the call runs
       (:func:`_call_with_trace_limit`).
    """
    if _signal_timer_usable():
        return _call_with_alarm(fn, args, kwargs, seconds)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 — reported to the student
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    try:
        worker.start()
    except RuntimeError:  # "can't start new thread"
        return _call_with_trace_limit(fn, args, kwargs, seconds)
    worker.join(seconds)
    if worker.is_alive():
        raise _Timeout
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _signal_timer_usable() -> bool:
    return (
        hasattr(signal, "setitimer")
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )


def _call_with_alarm(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call_with_trace_limit(
    fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float
) -> Any:
    """The time limit without signals or threads: a trace function (``sys.settrace``) looks
    at the clock on every call and line of Python code and raises ``_Timeout`` past the
    deadline. Python code slows down while traced, and a single long call into compiled code
    (one huge NumPy operation) is only stopped when it returns to Python."""
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _Timeout
        return tracer

    sys.settrace(tracer)
    try:
        return fn(*args, **kwargs)
    finally:
        sys.settrace(previous)


def _student_frame(exc: BaseException) -> str:
    """The last traceback line that is in the student's code (not this module)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if not f.filename.endswith("framework.py")]
    if not mine:
        return ""
    f = mine[-1]
    where = "your code" if f.filename.startswith("<") or "ipykernel" in f.filename else f.filename
    return f" (in {where}, line {f.lineno}: {f.line})" if f.line else ""


# --------------------------------------------------------------------------------------------
# the exercise


@dataclass
class Exercise:
    """One graded exercise.

    Parameters
    ----------
    lesson, id:
        Where it lives in the syllabus (``"03"``, ``"q2"``); ``name`` and ``points`` are read
        from the syllabus unless given.
    reference:
        The answer key: for a function exercise the library function the student re-implements,
        called on each case; for a value exercise, a zero-argument callable returning the value.
    cases:
        ``cases(rng) -> iterable of Case or argument tuples`` (function exercises only).
    compare:
        ``compare(got, expected) -> None | str`` (default :func:`allclose`).
    verify:
        Optional ``verify(student_fn, rng) -> None | str`` for exercises judged by a property
        rather than by matching the reference (e.g. a sampler judged by its statistics).
    hints:
        From a nudge to nearly the answer; ``hint(1)``, ``hint(2)``, ...
    solution_text:
        The worked solution shown by ``solution()`` (Markdown).
    broken:
        Wrong answers the self-tests must mark *incorrect*.
    """

    lesson: str
    id: str
    reference: Callable[..., Any]
    hints: Sequence[str]
    solution_text: str
    cases: Callable[[np.random.Generator], Iterable[Any]] | None = None
    compare: Callable[[Any, Any], str | None] = field(default_factory=allclose)
    verify: Callable[[Callable[..., Any], np.random.Generator], str | None] | None = None
    broken: Sequence[Any] = ()
    kind: str = "function"
    name: str = ""
    points: int = 0
    timeout: float = 10.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("function", "value"):
            raise ValueError(f"kind: expected 'function' or 'value', got {self.kind!r}")
        if self.kind == "function" and self.cases is None and self.verify is None:
            raise ValueError("cases: a function exercise needs cases(rng) or verify(fn, rng)")
        if len(self.hints) < 1:
            raise ValueError("hints: give at least one hint")
        if not self.name or not self.points:
            spec = load_syllabus().lesson(self.lesson).exercise(self.id)
            self.name = self.name or spec.name
            self.points = self.points or spec.points
        if self.seed is None:
            self.seed = zlib.crc32(f"{self.lesson}.{self.id}".encode())

    # ---- student-facing ---------------------------------------------------------------------

    @property
    def call(self) -> str:
        """How a lesson reaches this exercise: ``ex.q1`` (lessons import their checks as
        ``ex``)."""
        return f"ex.{self.id}"

    def hint(self, level: int = 1, *, record: bool = True) -> Hint:
        """Hint number ``level`` (1 is a nudge; the last is nearly the answer).

        Recorded in the progress file unless ``record`` is false (a lesson's own
        demonstration of a hint, so that "Run All" records no hint the student never asked
        for).
        """
        n = len(self.hints)
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            return Hint(f"Hints are numbered 1 to {n}: try `{self.call}.hint(1)`.")
        level = min(level, n)
        if record:
            record_hint(self.lesson, self.id, level)
        more = f"\n\n(hint {level} of {n}" + (
            f"; `{self.call}.hint({level + 1})` says more)" if level < n else ")"
        )
        return Hint(f"**Hint {level}** for `{self.name}`: {self.hints[level - 1]}{more}")

    def solution(self, *, record: bool = True) -> Hint:
        """The worked solution (recorded as the hint level after the last hint)."""
        if record:
            record_hint(self.lesson, self.id, len(self.hints) + 1)
        return Hint(f"**Solution** for `{self.name}`:\n\n{self.solution_text}")

    def check(self, answer: Any = None, *, record: bool = True) -> Result:
        """Check the student's ``answer`` (their function, or their value)."""
        try:
            result = self._check(answer)
        except BaseException as exc:  # noqa: BLE001 — the checker never raises
            if isinstance(exc, KeyboardInterrupt):
                result = self._result(Status.INCORRECT, "the check was interrupted")
            else:
                result = self._result(
                    Status.INCORRECT,
                    f"the check could not run your answer: {type(exc).__name__}: {exc}",
                )
        if record:
            record_check(result)
        return result

    # ---- internals --------------------------------------------------------------------------

    def _result(self, status: Status, message: str) -> Result:
        score = float(self.points) if status is Status.CORRECT else 0.0
        return Result(self.lesson, self.id, self.name, status, message, self.points, score)

    def _not_attempted(self) -> Result:
        what = "function" if self.kind == "function" else "value"
        return self._result(
            Status.NOT_ATTEMPTED,
            f"`{self.name}` still holds the stub: write the {what} in the cell above, run it, "
            f"then run this check again. Stuck? Try `{self.call}.hint()`.",
        )

    def _check(self, answer: Any) -> Result:
        if answer is None or answer is Ellipsis:
            return self._not_attempted()
        if self.kind == "value":
            return self._check_value(answer)
        if not callable(answer):
            return self._result(
                Status.INCORRECT,
                f"expected a function `{self.name}`, got {_describe(answer)}. "
                f"Pass the function itself: check({self.name}), not check({self.name}(...)).",
            )
        if self.verify is not None:
            return self._check_verify(answer)
        return self._check_function(answer)

    def _check_value(self, answer: Any) -> Result:
        expected = self.reference()
        try:
            reason = self.compare(answer, expected)
        except Exception as exc:  # noqa: BLE001
            reason = f"could not compare your value: {type(exc).__name__}: {exc}"
        if reason is None:
            return self._result(Status.CORRECT, "Correct.")
        return self._result(
            Status.INCORRECT,
            f"{reason}.\n  expected: {_fmt(expected)}\n  got:      {_fmt(answer)}\n"
            f"Try `{self.call}.hint()`.",
        )

    def _run_student(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, str]:
        """Run student code on copies of the inputs. Returns (value, '') or (None, reason)."""
        a, kw = copy.deepcopy(args), copy.deepcopy(kwargs)
        try:
            with np.errstate(all="ignore"):
                return _call_with_timeout(fn, a, kw, self.timeout), ""
        except _Timeout:
            return None, (
                f"your function did not finish within {self.timeout:g} s — an endless loop, or "
                f"a Python loop where a vectorised NumPy operation is expected?"
            )
        except NotImplementedError:
            return None, "NotImplementedError"
        except Exception as exc:  # noqa: BLE001 — reported to the student
            return None, f"your function raised {type(exc).__name__}: {exc}{_student_frame(exc)}"

    def _check_verify(self, fn: Callable[..., Any]) -> Result:
        rng = np.random.default_rng(self.seed)
        holder: dict[str, Any] = {}

        def guarded(*args: Any, **kwargs: Any) -> Any:
            value, err = self._run_student(fn, args, kwargs)
            if err:
                holder["err"] = err
                raise _StudentError(err)
            return value

        try:
            reason = self.verify(guarded, rng)  # type: ignore[misc]
        except _StudentError:
            reason = holder["err"]
        if reason == "NotImplementedError":
            return self._not_attempted()
        if reason is None:
            return self._result(Status.CORRECT, "Correct.")
        return self._result(Status.INCORRECT, f"{reason}\nTry `{self.call}.hint()`.")

    def _check_function(self, fn: Callable[..., Any]) -> Result:
        rng = np.random.default_rng(self.seed)
        cases = [c if isinstance(c, Case) else Case(tuple(c)) for c in self.cases(rng)]  # type: ignore[misc]
        for i, case in enumerate(cases, start=1):
            expected = self.reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            got, err = self._run_student(fn, case.args, case.kwargs)
            if err == "NotImplementedError" and i == 1:
                return self._not_attempted()
            if not err:
                try:
                    err = self.compare(got, expected) or ""
                except Exception as exc:  # noqa: BLE001
                    err = f"could not compare your result: {type(exc).__name__}: {exc}"
            if err:
                return self._result(
                    Status.INCORRECT, self._case_message(i, len(cases), case, err, expected, got)
                )
        return self._result(Status.CORRECT, f"Correct on all {len(cases)} test cases.")

    def _case_message(
        self, i: int, n: int, case: Case, reason: str, expected: Any, got: Any
    ) -> str:
        lines = [f"Test case {i} of {n}" + (f" ({case.note})" if case.note else "") + ":"]
        lines.append(f"  {reason}")
        try:
            import inspect

            params = list(inspect.signature(self.reference).parameters)
        except (TypeError, ValueError):
            params = []
        for j, arg in enumerate(case.args):
            label = params[j] if j < len(params) else f"arg{j}"
            lines.append(f"  input {label} = {_fmt(arg)}")
        for key, arg in case.kwargs.items():
            lines.append(f"  input {key} = {_fmt(arg)}")
        lines.append(f"  expected: {_fmt(expected)}")
        if got is not None or not reason.startswith("your function"):
            lines.append(f"  got:      {_fmt(got)}")
        lines.append(f"Try `{self.call}.hint()` for a nudge.")
        return "\n".join(lines)


class _StudentError(Exception):
    pass
