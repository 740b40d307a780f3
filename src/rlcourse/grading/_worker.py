"""Grade submissions: ``python -m rlcourse.grading._worker`` reads request files on stdin.

Runs in its own process (the grader keeps one per job and replaces it if it fails or hangs),
so nothing a notebook does can take the grader down with it. For each request it writes one
JSON object, the submission's row, to the path the request names.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from rlcourse.syllabus import LessonSpec, Syllabus, load_syllabus

CHECK_SECONDS = 120.0  # budget of one exercise's check in the checking process
NOT_GRADED = "not graded"


def identify_lesson(
    metadata: dict[str, Any] | None, filename: str, syllabus: Syllabus
) -> tuple[LessonSpec | None, list[str]]:
    """The lesson from ``metadata.rlcourse.lesson`` (written by ``rlcourse build``), else from
    the file name; the notes say what was odd."""
    meta = (metadata or {}).get("rlcourse") if isinstance(metadata, dict) else None
    lesson_id = meta.get("lesson") if isinstance(meta, dict) else None
    why = "no lesson in the notebook's metadata"
    if lesson_id is not None:
        try:
            return syllabus.lesson(str(lesson_id)), []
        except KeyError:
            why = f"the notebook's metadata names lesson {lesson_id!r}, not in the syllabus"
    found = syllabus.by_notebook(filename)
    if found is None:
        name = Path(filename).name
        return None, [f"unknown lesson: {why}, and the file name `{name}` matches no lesson"]
    notes = [f"{why}; graded as lesson {found.id} from the file name"] if lesson_id else []
    return found, notes


def _row(request: dict[str, Any], lesson: LessonSpec | None) -> dict[str, Any]:
    return {
        "student": request["student"],
        "file": request["display"],
        "lesson": lesson.id if lesson else "",
        "lesson_title": lesson.title if lesson else "",
        "exercises": [
            {
                "id": e.id,
                "name": e.name,
                "status": NOT_GRADED,
                "points": 0,
                "max_points": e.points,
                "message": "",
                "hint_level": 0,
            }
            for e in (lesson.exercises if lesson else ())
        ],
        "total": 0,
        "max_points": lesson.points if lesson else 0,
        "time_s": 0.0,
        "errors": [],
    }


def _not_graded(row: dict[str, Any], reason: str) -> None:
    for e in row["exercises"]:
        if e["status"] == NOT_GRADED and not e["message"]:
            e["message"] = f"not graded: {reason}"


def _run_checks(
    lesson: LessonSpec, payload_file: Path, base: Path
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run the checks in fresh processes until every exercise has a result."""
    ids = [e.id for e in lesson.exercises]
    names = {e.id: e.name for e in lesson.exercises}
    results: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    env = dict(os.environ)
    env.update(RLCOURSE_PROGRESS="off", PYTHONHASHSEED="0", MPLBACKEND="Agg", PYTHONSAFEPATH="1")
    for attempt in range(len(ids) + 1):
        remaining = [q for q in ids if q not in results]
        if not remaining:
            break
        where = base / f"check{attempt}"
        where.mkdir()
        request = {
            "lesson": lesson.id,
            "ids": remaining,
            "payload": str(payload_file),
            "results": str(where / "results.jsonl"),
        }
        (where / "request.json").write_text(json.dumps(request), encoding="utf-8")
        limit = CHECK_SECONDS * len(remaining)
        with (where / "stderr.txt").open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rlcourse.grading._checker", str(where / "request.json")],
                cwd=where,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
            try:
                proc.wait(limit)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                timed_out = True
        started: list[str] = []
        try:
            lines = (where / "results.jsonl").read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "start":
                started.append(entry["id"])
            elif entry.get("event") == "result" and entry.get("id") in remaining:
                results[entry["id"]] = entry
        pending = [q for q in started if q not in results]
        if pending:
            q = pending[0]
            why = (
                f"did not finish within {limit:g} s"
                if timed_out
                else f"ended the checking process (exit code {proc.returncode})"
            )
            results[q] = {
                "status": "incorrect",
                "message": f"checking `{names[q]}` {why}: no points.",
            }
        elif not started:
            tail = (where / "stderr.txt").read_text(encoding="utf-8", errors="replace")[-400:]
            errors.append(f"the checks could not start: {' '.join(tail.split())}")
            break
    return results, errors


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def grade_one(request: dict[str, Any]) -> dict[str, Any]:
    """The gradebook row of one submission (never raises for anything the notebook does)."""
    start = time.monotonic()
    row = _grade_one(request)
    row["total"] = sum(e["points"] for e in row["exercises"])
    row["time_s"] = round(time.monotonic() - start, 1)
    return row


def _grade_one(request: dict[str, Any]) -> dict[str, Any]:
    from rlcourse.grading._kernel import run_notebook

    syllabus = load_syllabus()
    path = Path(request["file"])
    lesson, notes = identify_lesson(None, path.name, syllabus)
    row = _row(request, lesson)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        row["errors"].append(f"cannot read the file: {exc.strerror}")
        _not_graded(row, "the file cannot be read")
        return row
    try:
        data = json.loads(raw.decode("utf-8"))
        nb = nbformat.reads(json.dumps(data), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as exc:  # noqa: BLE001 — any malformed file is a zero with a reason
        text = " ".join(str(exc).split())[:200]
        row["errors"].append(f"not a valid notebook ({type(exc).__name__}: {text})")
        row["errors"].extend(n for n in notes if n.startswith("unknown lesson"))
        _not_graded(row, "the file is not a valid notebook")
        return row
    lesson, notes = identify_lesson(nb.get("metadata"), path.name, syllabus)
    row = _row(request, lesson)
    row["errors"].extend(notes)
    if lesson is None:
        return row
    with tempfile.TemporaryDirectory(prefix="rlcourse-grade-") as tmp:
        base = Path(tmp)
        work = base / "work"
        work.mkdir()
        (work / path.name).write_bytes(raw)  # the copy the kernel sees; the original is untouched
        names = [e.name for e in lesson.exercises]
        run = run_notebook(nb, work, names, lesson.id, timeout=float(request["timeout"]))
        row["errors"].extend(p.text for p in run.problems)
        hints = run.hints
        if run.payload is None:
            row["errors"].append(run.payload_error)
            _not_graded(row, run.payload_error)
        else:
            payload_file = base / "payload.json"
            payload_file.write_text(json.dumps(run.payload), encoding="utf-8")
            shutil.rmtree(work, ignore_errors=True)
            results, errors = _run_checks(lesson, payload_file, base)
            row["errors"].extend(errors)
            _not_graded(row, "the checks could not run")
            for e in row["exercises"]:
                res = results.get(e["id"])
                if res is None:
                    continue
                e["status"] = res["status"]
                e["message"] = res["message"]
                e["points"] = e["max_points"] if res["status"] == "correct" else 0
                if res.get("tampered"):
                    row["errors"].append(f"{e['id']} `{e['name']}` changed the grader's code")
        for e in row["exercises"]:
            e["hint_level"] = int(hints.get(e["id"], 0))
    return row


def _serve_one(request_file: str) -> None:
    request = json.loads(Path(request_file).read_text(encoding="utf-8"))
    row = grade_one(request)
    out = Path(request["result"])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, sort_keys=True), encoding="utf-8")
    tmp.replace(out)


def main(argv: list[str]) -> int:
    """Grade the submission of each request file named on stdin, one per line; answer each
    with a line ``done`` on stdout once its row is written."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the kernel when stopped
    reply = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the reply channel
    for line in sys.stdin:
        if line.strip():
            _serve_one(line.strip())
            reply.write("done\n")
            reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
