"""Grade submitted lesson notebooks: ``rlcourse grade PATH... --out DIR``.

How a submission is graded
--------------------------
1. **Which lesson.** ``metadata.rlcourse.lesson`` (written by ``rlcourse build``), else the file
   name (``00_welcome.ipynb``, ``00_welcome-alice.ipynb``). Neither → a zero with the reason.
2. **Run it.** A copy runs in a fresh IPython kernel (the grader's interpreter, a private temp
   folder, a per-cell time limit, errors do not stop the run, outputs discarded, files it
   writes capped in size). A cell that hangs even when interrupted, or kills the kernel, is
   skipped on a re-run in a new kernel. The submission file itself is only read.
3. **Carry the answers out.** After the student's cells, the kernel pickles each exercise's
   ``name`` from the student's namespace — their functions *by value* (code, defaults,
   closure, the globals they use), modules and library functions *by reference*.
4. **Check them elsewhere.** A new Python process imports the lesson's exercises first, keeps
   its own reference to ``Exercise.check``, then rebuilds each answer and runs
   ``check(answer, record=False)``. So monkeypatching done in the notebook (``np.allclose =
   ...``, ``ex.q1.check = ...``, replacing ``rlcourse.mdp.bellman_backup``) does not reach
   the check: the checking process imports clean copies. Answers that patch code while being
   rebuilt or checked are detected (every function of every loaded module is compared with a
   snapshot) and get no points; an answer that is the library's own function gets none
   either. Nothing printed in the notebook, and no check the student ran, is used.
5. **Hints.** ``RLCOURSE_PROGRESS`` points at a private file while the notebook runs, so the
   hints the notebook asks for are recorded; the highest level per exercise is reported.

``jobs`` submissions are graded at once, each job by a long-lived grading process (replaced
when it fails or overruns a generous budget) that starts a new kernel and new checking
processes for every submission. A crash, hang or malformed file yields a row with zero or
partial points and the reason, never an exception here. Re-running gives the same gradebook
except ``time_s`` (wall time, rounded to 0.1 s); the feedback files are identical.

What it does not protect against
--------------------------------
This is **not a sandbox**. A submission runs arbitrary code as the grading user: it can read
and write files anywhere that user can, use the network, start processes that outlive the
run, exhaust memory or CPU, or read other students' submissions. Code that is written to
subvert the grader (forging the results file of the checking process, patching and restoring
within one call, editing installed packages) can succeed. It also cannot tell whether the
student wrote the code (a wrapper around the library's function passes). Grade untrusted
submissions inside a container or a throw-away virtual machine, as a user without access to
anything else.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcourse._progress import progress as _progress_bar
from rlcourse.syllabus import Syllabus, load_syllabus

__all__ = ["GradeReport", "Submission", "find_submissions", "grade", "write_gradebook"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Submission:
    """One notebook to grade: who handed it in, where it is, how the gradebook names it."""

    student: str
    file: Path
    display: str


@dataclass(frozen=True)
class GradeReport:
    """The graded rows (one per submission, sorted) and the files written."""

    rows: tuple[dict[str, Any], ...]
    csv_path: Path
    json_path: Path
    feedback_dir: Path


def _student_of_file(path: Path, syllabus: Syllabus) -> str:
    if syllabus.by_notebook(path.name) is not None and path.parent.name:
        return path.parent.resolve().name
    return path.stem


def _notebooks_under(folder: Path) -> list[Path]:
    found = []
    for p in sorted(folder.rglob("*.ipynb")):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel):  # .ipynb_checkpoints, hidden files
            continue
        if p.is_file():
            found.append(p)
    return found


def find_submissions(
    paths: Sequence[str | Path], syllabus: Syllabus | None = None
) -> list[Submission]:
    """The submissions in ``paths``: notebooks, or folders holding one notebook or one
    sub-folder per student.

    A notebook belongs to the student named by its file stem (``alice.ipynb``) — or, when it
    is named like a lesson (``alice/00_welcome.ipynb``), by its folder. In a folder given as
    PATH, every notebook under a sub-folder ``bob/`` belongs to ``bob``.
    """
    syl = syllabus if syllabus is not None else load_syllabus()
    subs: list[Submission] = []
    seen: set[Path] = set()

    def add(student: str, file: Path) -> None:
        key = file.resolve()
        if key not in seen:
            seen.add(key)
            subs.append(Submission(student, file, str(file)))

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            add(_student_of_file(path, syl), path)
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.is_file() and entry.suffix == ".ipynb":
                    add(_student_of_file(entry, syl), entry)
                elif entry.is_dir():
                    for nb in _notebooks_under(entry):
                        add(entry.name, nb)
        else:
            raise FileNotFoundError(f"PATH: no such notebook or folder: {raw}")
    return subs


# ---- running the workers ---------------------------------------------------------------------


def _hard_limit(file: Path, timeout: float) -> float:
    """A last-resort budget for one submission (the worker limits itself well before)."""
    from rlcourse.grading._kernel import MAX_RUNS, PROBE_SECONDS
    from rlcourse.grading._worker import CHECK_SECONDS

    try:
        nb = json.loads(file.read_text(encoding="utf-8"))
        n_code = sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code")
    except Exception:  # noqa: BLE001 — the worker reports malformed files
        n_code = 1
    per_run = (n_code + 3) * (timeout + PROBE_SECONDS + 3) + 90
    return MAX_RUNS * per_run + 10 * CHECK_SECONDS


def _failed_row(sub: Submission, reason: str) -> dict[str, Any]:
    from rlcourse.grading._worker import _not_graded, _row, identify_lesson

    lesson, _ = identify_lesson(None, sub.file.name, load_syllabus())
    row = _row({"student": sub.student, "display": sub.display}, lesson)
    row["errors"].append(reason)
    _not_graded(row, reason)
    return row


def _stop(proc: subprocess.Popen) -> None:
    """Stop a grading process and everything in its session (SIGTERM, then SIGKILL)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Worker:
    """A grading process that takes one submission after another (it is replaced when it
    fails or overruns); the kernel and the checks of each submission run in processes of
    their own below it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.tmp = tempfile.TemporaryDirectory(prefix="rlcourse-grader-")
        self.base = Path(self.tmp.name)
        self.count = 0

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.err = (self.base / f"stderr{self.count}.txt").open("wb")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rlcourse.grading._worker"],
                cwd=self.base,
                env=dict(os.environ, PYTHONSAFEPATH="1"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.err,
                start_new_session=True,
            )
        return self.proc

    def grade(self, sub: Submission, timeout: float) -> dict[str, Any]:
        self.count += 1
        request_file = self.base / f"request{self.count}.json"
        result = self.base / f"row{self.count}.json"
        request = {
            "file": str(sub.file.resolve()),
            "student": sub.student,
            "display": sub.display,
            "timeout": timeout,
            "result": str(result),
        }
        request_file.write_text(json.dumps(request), encoding="utf-8")
        start = time.monotonic()
        limit = _hard_limit(sub.file, timeout)
        reason = ""
        try:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"{request_file}\n".encode())
            proc.stdin.flush()
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                ready = sel.select(limit)
            if not ready:
                reason = f"grading took longer than {limit:g} s and was stopped"
            elif proc.stdout.readline().strip() != b"done":
                reason = "the grading process failed"
        except OSError as exc:
            reason = f"the grading process failed: {exc}"
        if not reason:
            try:
                return json.loads(result.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                reason = "the grading process wrote no result"
        self.close()
        row = _failed_row(sub, reason)
        row["time_s"] = round(time.monotonic() - start, 1)
        return row

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None and self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                    self.proc.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    _stop(self.proc)
            _stop(self.proc)
            self.proc = None
            self.err.close()

    def cleanup(self) -> None:
        self.close()
        self.tmp.cleanup()


def grade(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    timeout: float = 60.0,
    jobs: int | None = None,
    progress: bool = True,
) -> GradeReport:
    """Grade every submission in ``paths`` and write the gradebook and feedback to ``out_dir``.

    ``timeout`` is the limit in seconds for each notebook cell; ``jobs`` how many submissions
    are graded at once (default: the number of cores).
    """
    from rlcourse._validate import check_positive

    timeout = check_positive("timeout", timeout)
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"jobs: expected a positive integer, got {jobs!r}")
    subs = find_submissions(paths)
    if not subs:
        raise ValueError(f"PATH: no notebooks (*.ipynb) found in {', '.join(map(str, paths))}")
    rows: list[dict[str, Any]] = []
    n_workers = min(n_jobs, len(subs))
    idle: queue.Queue[_Worker] = queue.Queue()
    workers = [_Worker() for _ in range(n_workers)]
    for w in workers:
        idle.put(w)

    def task(sub: Submission) -> dict[str, Any]:
        worker = idle.get()
        try:
            return worker.grade(sub, timeout)
        finally:
            idle.put(worker)

    try:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(task, s) for s in subs]
            for fut in _progress_bar(
                as_completed(futures), total=len(futures), desc="grading", enabled=progress
            ):
                rows.append(fut.result())
    finally:
        for w in workers:
            w.cleanup()
    return write_gradebook(rows, out_dir)


# ---- writing the gradebook -------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _sort_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["student"], row["lesson"], row["file"])


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """The gradebook as CSV: one row per submission; exercise columns q1..qK per lesson."""
    width = max((len(r["exercises"]) for r in rows), default=0)
    header = ["student", "file", "lesson"]
    for i in range(1, width + 1):
        header += [f"q{i}_status", f"q{i}_points"]
    header += ["total", "max_points", "time_s", "errors"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        by_id = {e["id"]: e for e in r["exercises"]}
        line = [r["student"], r["file"], r["lesson"]]
        for i in range(1, width + 1):
            e = by_id.get(f"q{i}")
            line += [e["status"], f"{e['points']:g}"] if e else ["", ""]
        line += [f"{r['total']:g}", r["max_points"], f"{r['time_s']:.1f}", " | ".join(r["errors"])]
        writer.writerow(line)
    return buf.getvalue()


def _hint_text(level: int, n_hints: int | None) -> str:
    if level <= 0:
        return "none"
    if n_hints is not None and level > n_hints:
        return "solution viewed"
    return f"{level}" + (f" of {n_hints}" if n_hints else "")


def _n_hints(lesson_id: str) -> dict[str, int]:
    try:
        from rlcourse.exercises import exercises_of

        return {qid: len(ex.hints) for qid, ex in exercises_of(lesson_id).items()}
    except Exception:  # noqa: BLE001 — a lesson without checks yet
        return {}


def feedback_text(student: str, rows: Sequence[dict[str, Any]]) -> str:
    """The Markdown feedback of one student (no times: the same on every run)."""
    lines = [f"# Feedback for {student}", ""]
    for r in rows:
        title = f"Lesson {r['lesson']} — {r['lesson_title']}" if r["lesson"] else "Unknown lesson"
        lines += [f"## {title}", "", f"File: `{r['file']}`", ""]
        lines += [f"**Score: {r['total']:g} / {r['max_points']}**", ""]
        hints = _n_hints(r["lesson"]) if r["lesson"] else {}
        if r["exercises"]:
            lines += ["| exercise | status | points | hints used |", "|---|---|---|---|"]
            for e in r["exercises"]:
                lines.append(
                    f"| {e['id']} `{e['name']}` | {e['status']} | "
                    f"{e['points']:g} / {e['max_points']} | "
                    f"{_hint_text(e['hint_level'], hints.get(e['id']))} |"
                )
            lines.append("")
            for e in r["exercises"]:
                lines += [f"### {e['id']} `{e['name']}`: {e['status']}", ""]
                lines += ["```text", e["message"] or "(no message)", "```", ""]
        if r["errors"]:
            lines += ["### Problems found while running your notebook", ""]
            lines += [f"- {err}" for err in r["errors"]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_gradebook(rows: Sequence[dict[str, Any]], out_dir: str | Path) -> GradeReport:
    """Write ``gradebook.csv``, ``gradebook.json`` and ``feedback/STUDENT.md`` atomically."""
    out = Path(out_dir)
    ordered = tuple(sorted(rows, key=_sort_key))
    feedback_dir = out / "feedback"
    by_student: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        by_student.setdefault(r["student"], []).append(r)
    used: set[str] = set()
    for student, student_rows in by_student.items():
        name = _SAFE.sub("_", student).strip("._") or "student"
        while name in used:
            name += "_"
        used.add(name)
        for r in student_rows:
            r["feedback"] = f"feedback/{name}.md"
        _atomic_write(feedback_dir / f"{name}.md", feedback_text(student, student_rows))
    json_path, csv_path = out / "gradebook.json", out / "gradebook.csv"
    doc = {"submissions": list(ordered)}
    _atomic_write(json_path, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    _atomic_write(csv_path, csv_text(ordered))
    return GradeReport(ordered, csv_path, json_path, feedback_dir)
