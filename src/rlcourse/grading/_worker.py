"""A grading worker: ``python -m rlcourse.grading._worker`` reads one JSON request per line
on stdin and answers each with one JSON row per line on stdout.

The worker is the *judge*: it never runs student code. For each submission it makes a fresh
folder holding only a copy of the notebook, runs the copy in a limited kernel (see
:mod:`rlcourse.grading._kernel`), has the kernel call the student's functions on the cases it
recorded, and decides every exercise from the plain data that comes back
(:mod:`rlcourse.grading._judge`). It is a child subreaper: every process a kernel starts —
even one that left its session — ends up as the worker's child and is killed when the
submission is done; in the ``user`` mode every process of the submission's user id is too.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

from rlcourse._imports import without_iri_checker
from rlcourse.syllabus import LessonSpec, Syllabus, load_syllabus

CHECK_MARGIN = 15.0  # seconds on top of the checks' own limits, for the runner cell
NOT_GRADED = "not graded"
MAX_NOTEBOOK_BYTES = 50 * 2**20


def identify_lesson(
    metadata: dict[str, Any] | None,
    filename: str,
    syllabus: Syllabus,
    override: str | None = None,
) -> tuple[LessonSpec | None, list[str]]:
    """The lesson from ``override`` (``--lesson``), else ``metadata.rlcourse.lesson`` (written
    by ``rlcourse build``), else the file name; the notes say what was odd."""
    by_name = syllabus.by_notebook(filename)
    meta = (metadata or {}).get("rlcourse") if isinstance(metadata, dict) else None
    lesson_id = meta.get("lesson") if isinstance(meta, dict) else None
    if override is not None:
        lesson = syllabus.lesson(override)
        notes = []
        if lesson_id is not None and str(lesson_id) != lesson.id:
            notes.append(
                f"the notebook's metadata names lesson {str(lesson_id)[:20]!r}; "
                f"graded as lesson {lesson.id} (--lesson)"
            )
        return lesson, notes
    why = "no lesson in the notebook's metadata"
    if lesson_id is not None:
        try:
            lesson = syllabus.lesson(str(lesson_id))
        except KeyError:
            why = (
                f"the notebook's metadata names lesson {str(lesson_id)[:20]!r}, not in the syllabus"
            )
        else:
            notes = []
            if by_name is not None and by_name.id != lesson.id:
                notes.append(
                    f"the file name `{Path(filename).name}` is that of lesson {by_name.id}, "
                    f"but the notebook's metadata names lesson {lesson.id}: graded as "
                    f"lesson {lesson.id} (use --lesson to choose)"
                )
            return lesson, notes
    if by_name is None:
        name = Path(filename).name
        return None, [f"unknown lesson: {why}, and the file name `{name}` matches no lesson"]
    notes = [f"{why}; graded as lesson {by_name.id} from the file name"] if lesson_id else []
    return by_name, notes


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
                "flag": "",
            }
            for e in (lesson.exercises if lesson else ())
        ],
        "total": 0,
        "max_points": lesson.points if lesson else 0,
        "time_s": 0.0,
        "errors": [],
        "flags": 0,
    }


def _not_graded(row: dict[str, Any], reason: str) -> None:
    for e in row["exercises"]:
        if e["status"] == NOT_GRADED and not e["message"]:
            e["message"] = f"not graded: {reason}"


# ---- processes -------------------------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphans of our descendants become our children (Linux), so none escapes the sweep."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, real uid) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        try:
            table[int(entry.name)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]))
        except (KeyError, ValueError, IndexError):
            continue
    return table


def sweep(uid: int | None = None) -> int:
    """Kill every descendant of this process (and every process of ``uid``); reap them.
    Returns how many were killed."""
    if not Path("/proc/self/status").exists():
        return 0
    me = os.getpid()
    killed = 0
    for _ in range(50):
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _uid) in table.items():
            children.setdefault(ppid, []).append(pid)
        targets, todo = set(), list(children.get(me, []))
        while todo:
            pid = todo.pop()
            if pid not in targets:
                targets.add(pid)
                todo += children.get(pid, [])
        if uid is not None and uid != 0:
            targets |= {pid for pid, (_p, u) in table.items() if u == uid and pid != me}
        if not targets:
            break
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed += len(targets)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return killed


def installation_state() -> dict[str, tuple[int, int]]:
    """Name -> (mtime, size) of the top-level entries of every site-packages folder and of
    the rlcourse package: a submission that writes into the installation changes it."""
    import site

    import rlcourse

    folders = {*site.getsitepackages(), str(Path(rlcourse.__file__).parent)}
    folders.add(str(Path(rlcourse.__file__).parent.parent))
    state = {}
    for folder in sorted(folders):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name == "__pycache__":
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            state[e.path] = (st.st_mtime_ns, st.st_size)
    return state


def _changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


# ---- one submission --------------------------------------------------------------------------


def grade_one(request: dict[str, Any]) -> dict[str, Any]:
    """The gradebook row of one submission (never raises for anything the notebook does)."""
    start = time.monotonic()
    before = installation_state()
    try:
        row = _grade_one(request)
    except Exception as exc:  # noqa: BLE001 — a grader failure is reported in the row
        import traceback

        traceback.print_exc()
        row = _row(request, None)
        row["errors"].append(f"grader error: {type(exc).__name__}: {' '.join(str(exc).split())}")
    finally:
        sweep(request.get("uid"))
    changed = _changed(before, installation_state())
    if changed:
        shown = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
        row["errors"].append(f"for review: the Python installation changed while it ran ({shown})")
        row["review"] = 1
    row["total"] = sum(e["points"] for e in row["exercises"])
    row["flags"] = sum(1 for e in row["exercises"] if e["flag"]) + int(row.pop("review", 0) > 0)
    row["time_s"] = round(time.monotonic() - start, 1)
    return row


def _read(path: Path) -> bytes:
    """The file's bytes; a symbolic link, a non-regular or an oversized file is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError("not a regular file")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            raise OSError(f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)


@functools.cache
def lesson_cells(notebook: str) -> frozenset[str]:
    """The code cells of the lesson as handed out (stripped sources): the student did not
    write them, so their hint calls do not count and they are not reviewed."""
    try:
        import nbformat

        from rlcourse.paths import lessons_dir

        nb = nbformat.read(lessons_dir() / notebook, as_version=4)
    except Exception:  # noqa: BLE001 — no lesson file: every cell is the student's
        return frozenset()
    return frozenset(c.source.strip() for c in nb.cells if c.cell_type == "code")


def _apply_flags(e: dict[str, Any], found: list[str]) -> None:
    text = "; ".join(found)
    e["flag"] = f"{e['flag']}; {text}" if e["flag"] else text
    e["message"] += (
        f"\n\nFlagged for review (from your notebook's source): `{e['name']}` {text}. It gets "
        "no points until the instructor decides."
    )
    if e["status"] == "correct":
        e["status"] = "flagged"
    e["points"] = 0


def _grade_one(request: dict[str, Any]) -> dict[str, Any]:
    import nbformat

    from rlcourse.grading._judge import GraderError, judge, plan_lesson, request_bytes
    from rlcourse.grading._kernel import Limits, run_notebook
    from rlcourse.grading._review import review

    syllabus = load_syllabus()
    path = Path(request["file"])
    override = request.get("lesson")
    lesson, notes = identify_lesson(None, path.name, syllabus, override)
    row = _row(request, lesson)
    try:
        raw = _read(path)
    except OSError as exc:
        row["errors"].append(f"cannot read the file: {exc.strerror or exc}")
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
    lesson, notes = identify_lesson(nb.get("metadata"), path.name, syllabus, override)
    row = _row(request, lesson)
    row["errors"].extend(notes)
    if lesson is None:
        return row
    plans = plan_lesson(lesson.id)
    given = lesson_cells(lesson.notebook)
    mine = [
        (i + 1, c.source)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and isinstance(c.source, str) and c.source.strip() not in given
    ]
    static_flags, review_notes = review(mine, [(p.id, p.name, p.answers) for p in plans])
    limits = Limits(
        timeout=float(request["timeout"]),
        budget=float(request["budget"]),
        memory=int(request["memory"]),
        nproc=int(request["nproc"]),
    )
    check_seconds = sum(p.timeout * max(1, len(p.calls)) for p in plans) + CHECK_MARGIN
    parent = Path(request["tmp"])
    work = parent / f"w{os.getpid()}-{request['n']}"
    uid = request.get("uid")
    work.mkdir(mode=0o700)
    try:
        name = "submission.ipynb"
        (work / name).write_bytes(raw)  # the copy the kernel sees; the original is untouched
        calls = work / ".rlcourse-calls.pkl"
        calls.write_bytes(request_bytes(plans))
        mpl = os.environ.get("RLCOURSE_GRADER_MPLCONFIGDIR", "")
        if mpl and os.path.isdir(mpl):  # matplotlib's font cache, built once per run
            shutil.copytree(mpl, work / ".matplotlib", symlinks=False)
        config: dict[str, Any] = {"as": limits.memory, "nproc": limits.nproc}
        config["fsize"] = limits.file_size
        if uid is not None:
            for folder, dirs, files in os.walk(work):
                for p in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
                    os.chown(p, uid, uid, follow_symlinks=False)
            config.update(uid=uid, gid=uid, chown=[], **request["mounts"])
            config["writable"] = [str(work)]
        try:
            run = run_notebook(
                nb, work, calls, lesson.id, limits=limits, config=config,
                check_seconds=check_seconds, demo=set(given),
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 — e.g. a kernel that cannot start
            import traceback

            traceback.print_exc()  # kept in the grading log
            reason = f"the kernel could not run: {type(exc).__name__}: {' '.join(str(exc).split())}"
            row["errors"].append(reason[:400])
            _not_graded(row, "the kernel could not run")
            return row
        row["errors"].extend(p.text for p in run.problems)
        if run.runner_error:
            row["errors"].append(run.runner_error)
        if run.forged:
            review_notes.append(
                f"the notebook sent {run.forged} message(s) posing as the grader's results "
                "(ignored)"
            )
        for e, plan in zip(row["exercises"], plans, strict=True):
            try:
                verdict = judge(plan, run.outcomes.get(plan.id), str(work))
            except GraderError as exc:
                row["errors"].append(f"grader error: {exc}")
                continue
            e["status"], e["message"], e["flag"] = (
                verdict["status"],
                verdict["message"],
                verdict["flag"],
            )
            e["points"] = e["max_points"] if verdict["status"] == "correct" else 0
            e["hint_level"] = int(run.hints.get(e["id"], 0))
            if static_flags.get(e["id"]):
                _apply_flags(e, static_flags[e["id"]])
            if e["flag"]:
                row["errors"].append(f"{e['id']} `{e['name']}` flagged for review: it {e['flag']}")
        _not_graded(row, "the checks could not run")
        row["errors"].extend(f"for review: {n}" for n in review_notes)
        row["review"] = len(review_notes)
    finally:
        sweep(uid)
        shutil.rmtree(work, ignore_errors=True)
    return row


def main(argv: list[str]) -> int:
    """Answer each JSON request line on stdin with one JSON row line on stdout."""
    without_iri_checker()  # before nbformat is first imported: ~0.9 s less per worker
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the kernel when stopped
    become_subreaper()
    reply = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the reply channel
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        row = grade_one(request)
        reply.write(json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n")
        reply.flush()
    sweep()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
