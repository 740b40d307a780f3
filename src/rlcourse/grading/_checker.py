"""The checking process: ``python -m rlcourse.grading._checker REQUEST.json``.

A fresh interpreter that imports the lesson's exercises *before* it sees any student object,
keeps its own references to them (and to ``Exercise.check``), then for each exercise unpickles
the student's object, runs ``Exercise.check(obj, record=False)`` and appends one JSON line to
the results file. Around every step it compares the functions of every loaded module, the
exercise framework's classes and the exercise objects with a snapshot taken at start: an
answer whose unpickling or execution changed any of them (monkeypatching) gets no points, and
the process stops so the remaining exercises are checked in a new, clean one.
"""

from __future__ import annotations

import base64
import json
import linecache
import os
import sys
import types
from pathlib import Path
from typing import Any

_MISSING = object()


def _watched(name: str) -> bool:
    return name == "builtins" or name == "rlcourse" or name.startswith("rlcourse.")


class _Snapshot:
    """Identity of every function, class and module reachable from loaded modules, the
    framework classes and the exercise objects."""

    def __init__(self, extra: dict[str, Any]) -> None:
        self.entries: list[tuple[str, Any, str, Any]] = []
        self.keys: list[tuple[str, Any, frozenset[str]]] = []
        for mname, mod in list(sys.modules.items()):
            ns = getattr(mod, "__dict__", None)
            if not isinstance(ns, dict):
                continue
            strict = _watched(mname)
            for key, value in list(ns.items()):
                if strict or callable(value) or isinstance(value, types.ModuleType):
                    self.entries.append((mname, ns, key, value))
            if strict:
                self.keys.append((mname, ns, frozenset(ns)))
        for label, obj in extra.items():
            ns = vars(obj)
            for key, value in list(ns.items()):
                self.entries.append((label, ns, key, value))
            self.keys.append((label, ns, frozenset(ns)))

    def changed(self) -> list[str]:
        out = []
        for label, ns, key, value in self.entries:
            if ns.get(key, _MISSING) is not value:
                out.append(f"{label}.{key}")
        for label, ns, keys in self.keys:
            for k in set(ns) - keys:
                # a submodule imported later appears in its package: not a change
                if not (isinstance(ns[k], types.ModuleType) and ns[k].__name__ == f"{label}.{k}"):
                    out.append(f"{label}.{k}")
        return sorted(set(out))


def _tamper_message(name: str, changed: list[str], when: str) -> str:
    shown = ", ".join(f"`{c}`" for c in changed[:5]) + (" ..." if len(changed) > 5 else "")
    return (
        f"{when}, `{name}` changed the grader's own code ({shown}). Answers that patch "
        "rlcourse, NumPy or Python itself are not graded: define the function without "
        "modifying any library."
    )


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    results = Path(request["results"])
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 — student prints go nowhere

    from rlcourse.exercises import Exercise, Result, Status, exercises_of

    exercises = exercises_of(request["lesson"])
    check = Exercise.check
    correct, incorrect, not_attempted = Status.CORRECT, Status.INCORRECT, Status.NOT_ATTEMPTED
    payload = json.loads(Path(request["payload"]).read_text(encoding="utf-8"))
    objects: dict[str, Any] = payload.get("objects", {})
    for filename, text in payload.get("sources", {}).items():
        lines = text.splitlines(keepends=True)
        linecache.cache[filename] = (len(text), None, lines, filename)

    extra: dict[str, Any] = {
        "Exercise": Exercise,
        "Result": Result,
        "framework.Status": Status,
        **{f"lesson{request['lesson']}.{qid}": ex for qid, ex in exercises.items()},
    }
    snapshot = _Snapshot(extra)
    fh = results.open("a", encoding="utf-8")

    def emit(entry: dict[str, Any]) -> None:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()

    from rlcourse.grading._transfer import loads

    for qid in request["ids"]:
        ex = exercises[qid]
        entry = objects.get(ex.name, {"status": "missing"})
        emit({"event": "start", "id": qid})
        if entry.get("status") == "missing":
            status, message = (
                not_attempted,
                f"`{ex.name}` is not defined after running your notebook: its cell was "
                "deleted or renamed, or it failed before the definition.",
            )
        elif entry.get("status") != "ok":
            status, message = (
                incorrect,
                f"the grader could not take `{ex.name}` out of your notebook: "
                f"{entry.get('error', 'unknown reason')}",
            )
        else:
            try:
                obj = loads(base64.b64decode(entry["pickle"]))
                unpickle_error = ""
            except BaseException as exc:  # noqa: BLE001 — student objects may do anything
                obj, unpickle_error = None, f"{type(exc).__name__}: {exc}"
            changed = snapshot.changed()
            if changed:
                emit(
                    {
                        "event": "result",
                        "id": qid,
                        "status": incorrect.value,
                        "message": _tamper_message(ex.name, changed, "When loaded"),
                        "tampered": True,
                    }
                )
                return 3
            if unpickle_error:
                status, message = (
                    incorrect,
                    f"the grader could not rebuild `{ex.name}`: {unpickle_error[:300]}",
                )
            elif ex.kind == "function" and (
                obj is ex.reference
                or str(getattr(obj, "__module__", "") or "").startswith("rlcourse")
            ):
                status, message = (
                    incorrect,
                    f"`{ex.name}` is the library's own function "
                    f"(`{getattr(obj, '__module__', '')}.{getattr(obj, '__name__', '')}`), "
                    "imported rather than written: write it yourself.",
                )
            else:
                result = check(ex, obj, record=False)
                changed = snapshot.changed()
                if changed:
                    emit(
                        {
                            "event": "result",
                            "id": qid,
                            "status": incorrect.value,
                            "message": _tamper_message(ex.name, changed, "While being checked"),
                            "tampered": True,
                        }
                    )
                    return 3
                if type(result) is not Result or result.status not in (
                    correct,
                    incorrect,
                    not_attempted,
                ):
                    status, message = incorrect, "the check returned no valid result"
                else:
                    status, message = result.status, str(result.message)
        emit({"event": "result", "id": qid, "status": status.value, "message": message[:4000]})
    fh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
