"""The judge: decides each exercise from plain data, never running student code.

1. :func:`plan_lesson` runs each exercise's own check once with the library's reference in
   place of the student's function and records every call the check makes (the seeded
   cases; for property checks, the calls ``verify`` makes). The kernel is sent these calls.
2. The kernel (:mod:`rlcourse.grading._runner`) calls the student's function on them and
   sends back plain data: the value returned, the exception raised, or a timeout.
3. :func:`judge` runs the exercise's check again, now with a *replay* in place of the
   student's function: call k returns what the student's function returned on call k (after
   checking that the arguments are the recorded ones). So ``Exercise.check`` of a clean
   library, in a process no student code ever reached, compares with the reference and
   writes the message — the same message the student sees in the notebook.

A check whose calls depend on what the function returned earlier could not be replayed;
the judge notices (the arguments differ) and reports a grader error instead of a grade.
"""

from __future__ import annotations

import inspect
import pickle
import re
import types
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rlcourse.grading._plain import Opaque, PlainError, decode, type_label

__all__ = ["Plan", "answers_of", "judge", "plan_lesson", "request_bytes"]

FLAGGED = "flagged"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")
_FLAG_TEXT = {
    "calls": "calls the library's own `{}` when it runs",
    "refers": "holds the library's own `{}` (an alias, a wrapper, a `functools.partial`)",
    "copies": "has the same bytecode as the library's own `{}` (a copy of its code)",
}


class GraderError(Exception):
    """The judge could not replay a check (a grader problem, not the student's)."""


@dataclass
class Plan:
    """What the kernel must do for one exercise, and what the judge needs to replay it."""

    lesson: str
    id: str
    name: str
    kind: str
    timeout: float
    calls: list[tuple[tuple, dict]] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)


def answers_of(ex: Any) -> list[tuple[str, str]]:
    """The library's own answer to an exercise: its reference, and — when the reference is a
    short wrapper written for the checks — the one library function it wraps."""
    f = ex.reference
    out = [(f.__module__, f.__name__)] if isinstance(f, types.FunctionType) else []
    if isinstance(f, types.FunctionType) and f.__module__.startswith("rlcourse.exercises"):
        try:
            n_lines = len(inspect.getsource(f).splitlines())
        except (OSError, TypeError):
            n_lines = 99
        wrapped = []
        for name in f.__code__.co_names:
            g = f.__globals__.get(name)
            mod = str(getattr(g, "__module__", ""))
            if isinstance(g, types.FunctionType) and g is not f and mod.startswith("rlcourse"):
                if not mod.startswith("rlcourse.exercises"):
                    wrapped.append((mod, g.__name__))
        if n_lines <= 6 and len(wrapped) == 1:
            out += wrapped
    return out


def _key(args: tuple, kwargs: dict) -> bytes:
    return pickle.dumps((args, kwargs), protocol=4)


@cache
def plan_lesson(lesson_id: str) -> tuple[Plan, ...]:
    """Record the calls of every exercise's check of ``lesson_id`` (the reference answers)."""
    from rlcourse.exercises import Status, exercises_of

    plans = []
    for qid, ex in exercises_of(lesson_id).items():
        plan = Plan(lesson_id, qid, ex.name, ex.kind, float(ex.timeout), answers=answers_of(ex))
        if ex.kind == "function":

            def recorder(*args: Any, _plan: Plan = plan, _ex: Any = ex, **kwargs: Any) -> Any:
                _plan.calls.append((args, kwargs))
                _plan.keys.append(_key(args, kwargs))
                return _ex.reference(*args, **kwargs)

            result = ex.check(recorder, record=False)
            if result.status is not Status.CORRECT:
                raise GraderError(f"lesson {lesson_id} {qid}: the reference fails its own check")
        plans.append(plan)
    return tuple(plans)


def request_bytes(plans: tuple[Plan, ...]) -> bytes:
    """What the kernel reads: the calls to make (pickle, read only by the kernel)."""
    exercises = [
        {
            "id": p.id,
            "name": p.name,
            "kind": p.kind,
            "timeout": p.timeout,
            "calls": p.calls,
            "answers": p.answers,
        }
        for p in plans
    ]
    return pickle.dumps({"exercises": exercises}, protocol=4)


# ---- the replay ------------------------------------------------------------------------------

# compiled under a name with no source, so that a traceback through the replay shows no line
# of the grader (the student's own line travels in the message)
_REPLAY_SRC = """
def replay(*args, **kwargs):
    kind, value = _next(args, kwargs)
    if kind == "raise":
        raise value
    return value
"""


class _Replay:
    def __init__(self, plan: Plan, results: list[Any]) -> None:
        self.plan, self.results, self.i = plan, results, 0
        self.diverged = ""

    def next(self, args: tuple, kwargs: dict) -> tuple[str, Any]:
        from rlcourse.exercises.framework import _Timeout

        i, self.i = self.i, self.i + 1
        if i >= len(self.plan.keys) or _key(args, kwargs) != self.plan.keys[i]:
            self.diverged = f"call {i + 1} of the check differs from the recorded one"
            return "raise", _Diverged(self.diverged)
        if i >= len(self.results):
            return "raise", _exception(
                "GradingStopped",
                "the kernel stopped answering before this call (it died or did not stop)",
            )
        r = self.results[i]
        if "ok" in r:
            try:
                return "value", decode(r["ok"])
            except PlainError:
                return "value", Opaque("unreadable")
        if "timeout" in r:
            return "raise", _Timeout()
        if r.get("notimpl"):
            return "raise", NotImplementedError(r["message"])
        return "raise", _exception(r["raised"], r["message"] + r.get("frame", ""))

    def function(self) -> types.FunctionType:
        ns: dict[str, Any] = {"_next": self.next}
        exec(compile(_REPLAY_SRC, "<rlcourse replay>", "exec"), ns)  # noqa: S102 — fixed source
        return ns["replay"]


class _Diverged(BaseException):
    pass


@cache
def _exception_type(name: str) -> type:
    return type(type_label(name), (Exception,), {})


def _exception(name: str, message: str) -> BaseException:
    return _exception_type(name)(message)


# ---- validating what the kernel sent ---------------------------------------------------------


def _text(x: Any, limit: int = 600) -> str:
    if type(x) is not str:
        raise PlainError("expected text")
    return x[:limit]


def _valid_result(r: Any) -> dict[str, Any]:
    if type(r) is not dict:
        raise PlainError("a result must be an object")
    keys = set(r)
    if keys == {"ok"}:
        return r
    if keys == {"timeout"} and r["timeout"] is True:
        return r
    if "raised" in keys and keys <= {"raised", "message", "frame", "notimpl"}:
        out = {"raised": type_label(_text(r["raised"], 80)), "message": _text(r.get("message", ""))}
        out["frame"] = _text(r.get("frame", ""), 300)
        if r.get("notimpl") is True:
            out["notimpl"] = True
        return out
    raise PlainError("unexpected result fields")


def validate(plan: Plan, outcome: Any) -> dict[str, Any]:
    """The kernel's message for ``plan``, checked field by field (PlainError if malformed)."""
    if type(outcome) is not dict or outcome.get("id") != plan.id:
        raise PlainError("not a result for this exercise")
    status = outcome.get("status")
    if status == "missing":
        return {"status": "missing"}
    if status == "value":
        return {"status": "value", "value": outcome.get("value")}
    if status == "conflict":
        raise PlainError("two different results arrived for this exercise")
    if status != "calls":
        raise PlainError("unexpected status")
    results = outcome.get("results")
    flags = outcome.get("flags", [])
    if type(results) is not list or len(results) > len(plan.calls):
        raise PlainError("unexpected results")
    if type(flags) is not list or len(flags) > 50:
        raise PlainError("unexpected flags")
    clean_flags = set()
    for f in flags:
        if (
            type(f) is not dict
            or set(f) != {"kind", "answer"}
            or f["kind"] not in _FLAG_TEXT
            or type(f["answer"]) is not int
            or not 0 <= f["answer"] < len(plan.answers)
        ):
            raise PlainError("unexpected flag")
        clean_flags.add((f["kind"], f["answer"]))
    return {
        "status": "calls",
        "results": [_valid_result(r) for r in results],
        "flags": sorted(clean_flags),
    }


def clean(text: str, work: str = "") -> str:
    """No memory addresses, no private folders (so a re-run gives the same text)."""
    if work:
        text = text.replace(work, "<submission folder>")
    return _ADDRESS.sub("", text)


def judge(plan: Plan, outcome: Any, work: str = "") -> dict[str, Any]:
    """``{"status", "message", "flag"}`` for one exercise from the kernel's ``outcome``
    (``None`` when the kernel sent nothing for it)."""
    from rlcourse.exercises import Status, exercises_of

    ex = exercises_of(plan.lesson)[plan.id]
    if outcome is None:
        return {
            "status": Status.INCORRECT.value,
            "message": f"`{plan.name}` could not be checked: the kernel stopped before its check "
            "(it died, ran out of time, or did not stop when interrupted).",
            "flag": "",
        }
    try:
        data = validate(plan, outcome)
    except PlainError as exc:
        return {
            "status": Status.INCORRECT.value,
            "message": f"the grader received malformed results for `{plan.name}` ({exc}).",
            "flag": "",
        }
    if data["status"] == "missing":
        return {
            "status": Status.NOT_ATTEMPTED.value,
            "message": f"`{plan.name}` is not defined after running your notebook: its cell was "
            "deleted or renamed, or it failed before the definition.",
            "flag": "",
        }
    if data["status"] == "value":
        try:
            answer = decode(data["value"])
        except PlainError:
            answer = Opaque("unreadable")
        result = ex.check(answer, record=False)
        return {"status": result.status.value, "message": clean(result.message, work), "flag": ""}
    replay = _Replay(plan, data["results"])
    result = ex.check(replay.function(), record=False)
    if replay.diverged:
        raise GraderError(f"{plan.id}: {replay.diverged}")
    status, message = result.status.value, clean(result.message, work)
    flag = "; ".join(
        _FLAG_TEXT[kind].format(".".join(plan.answers[i])) for kind, i in data["flags"]
    )
    if flag:
        message += (
            f"\n\nFlagged for review: `{plan.name}` {flag}. It gets no points until the "
            "instructor decides."
        )
        if status == Status.CORRECT.value:
            status = FLAGGED
    return {"status": status, "message": message, "flag": flag}
