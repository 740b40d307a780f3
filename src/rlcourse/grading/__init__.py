"""Grade submitted lesson notebooks: ``rlcourse grade PATH... --out DIR``.

How a submission is graded
--------------------------
1. **Which lesson.** ``--lesson NN`` if given, else ``metadata.rlcourse.lesson`` (written by
   ``rlcourse build``), else the file name. A mismatch between the two is noted in the row.
2. **Run it, apart.** A copy runs in a fresh IPython kernel, alone in a new folder, with a
   scrubbed environment, a time limit per cell and a total budget for the notebook, limits
   on memory (address space), file size and processes, in its own session. Every process it
   started is killed at the end. With ``isolate="user"`` (as root) the kernel also runs as a
   user id of its own, in a private mount namespace where the instructor's home, the output
   folder, the submissions and the temporary folder are hidden and the installation is
   read-only.
3. **Judge apart.** The grading worker (the *judge*) never runs student code. It records the
   calls each exercise's check makes on the library's reference; the kernel calls the
   student's function on them and sends back plain data only (JSON of numbers, strings and
   NumPy arrays: nothing in it can run code when read). The judge then runs the exercise's
   own check with those answers replayed. Monkeypatching in the notebook, objects that run
   code when loaded and forged result files cannot reach it.
4. **Flags.** A function that calls the library's own answer for its exercise (however it
   gets there: an alias, a wrapper, a lambda, ``functools.partial``, stack inspection) or
   carries a copy of its bytecode is *flagged*: no points, a note in the feedback, and the
   instructor decides.
5. **Hints.** The hints the notebook asks for are recorded in a private file, cell by cell;
   hints asked for by a cell the lesson itself contains (its demonstration) do not count.

Rows are validated and written to the gradebook as they arrive (atomically), so an interrupted
run keeps what was graded and a re-run with the same ``--out`` resumes: submissions whose file
and settings are unchanged are not graded again.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import queue
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcourse.syllabus import Syllabus, load_syllabus

__all__ = [
    "GradeReport",
    "Submission",
    "csv_text",
    "find_submissions",
    "grade",
    "write_gradebook",
]

ISOLATION_MODES = ("process", "user")
MAX_NAME = 100
MAX_ROW_BYTES = 16 * 2**20
STATUSES = ("correct", "incorrect", "not attempted", "not graded", "flagged")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Submission:
    """One notebook to grade: who handed it in, where it is, how the gradebook names it;
    ``refused`` says why it is not run (a symbolic link)."""

    student: str
    file: Path
    display: str
    refused: str = ""


@dataclass(frozen=True)
class GradeReport:
    """The graded rows (one per submission, sorted), the files written and the warnings."""

    rows: tuple[dict[str, Any], ...]
    csv_path: Path
    json_path: Path
    feedback_dir: Path
    warnings: tuple[str, ...] = ()
    resumed: int = 0


# ---- finding submissions ---------------------------------------------------------------------


def clean_name(name: str) -> str:
    """A student name fit for the gradebook: no control characters or line breaks, at most
    ``MAX_NAME`` characters (a longer one keeps a hash of the rest)."""
    text = _CONTROL.sub("?", name).strip() or "?"
    if len(text) > MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{text[: MAX_NAME - 10]}~{digest}"
    return text


def _display(path: Path) -> str:
    return _CONTROL.sub("?", str(path))


def _student_of_file(path: Path, syllabus: Syllabus) -> str:
    if syllabus.by_notebook(path.name) is not None and path.parent.name:
        return path.parent.resolve().name
    return path.stem


def _refusal(entry: Path) -> str:
    return f"refused: a symbolic link (to {_display(entry.resolve())}), not graded"


def find_submissions(
    paths: Sequence[str | Path],
    syllabus: Syllabus | None = None,
    warnings: list[str] | None = None,
) -> list[Submission]:
    """The submissions in ``paths``: notebooks, or folders holding one notebook or one
    sub-folder per student.

    A notebook belongs to the student named by its file stem (``alice.ipynb``) — or, when it
    is named like a lesson (``alice/00_welcome.ipynb``), by its folder. In a folder given as
    PATH, every notebook under a sub-folder ``bob/`` belongs to ``bob``. A symbolic link
    inside a folder is refused (a row says why); hidden files and folders are graded and
    reported in ``warnings``; Jupyter's ``.ipynb_checkpoints`` are skipped.
    """
    syl = syllabus if syllabus is not None else load_syllabus()
    notes = warnings if warnings is not None else []
    subs: list[Submission] = []
    seen: set[str] = set()
    skipped_checkpoints = 0

    def add(student: str, file: Path, refused: str = "") -> None:
        key = str(file.absolute())
        if key in seen:
            return
        seen.add(key)
        hidden = [p for p in file.parts if p.startswith(".") and p not in (".", "..")]
        if hidden and not refused:
            notes.append(f"{_display(file)}: a hidden file or folder ({hidden[0]}); graded")
        subs.append(Submission(clean_name(student), file, _display(file), refused))

    def walk(folder: Path, student: str) -> None:
        nonlocal skipped_checkpoints
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink():
                if entry.suffix == ".ipynb" or entry.is_dir():
                    add(student, entry, _refusal(entry))
            elif entry.is_dir():
                if entry.name == ".ipynb_checkpoints":
                    skipped_checkpoints += 1
                    continue
                walk(entry, student)
            elif entry.is_file() and entry.suffix == ".ipynb":
                add(student, entry)

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            add(_student_of_file(path, syl), path)
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_symlink():
                    student = entry.stem if entry.suffix == ".ipynb" else entry.name
                    if entry.suffix == ".ipynb" or entry.is_dir():
                        add(student, entry, _refusal(entry))
                elif entry.is_file() and entry.suffix == ".ipynb":
                    add(_student_of_file(entry, syl), entry)
                elif entry.is_dir() and entry.name != ".ipynb_checkpoints":
                    walk(entry, entry.name)
                elif entry.is_dir():
                    skipped_checkpoints += 1
        else:
            raise FileNotFoundError(f"PATH: no such notebook or folder: {raw}")
    if skipped_checkpoints:
        notes.append(f"skipped {skipped_checkpoints} .ipynb_checkpoints folder(s) (autosaves)")
    return subs


def feedback_names(students: Sequence[str], warnings: list[str] | None = None) -> dict[str, str]:
    """A distinct, safe file name (without ``.md``) for each student. Names that differ only
    in characters the file name cannot hold (accents, other scripts) get a hash suffix."""
    notes = warnings if warnings is not None else []
    by_slug: dict[str, list[str]] = {}
    for s in sorted(set(students)):
        slug = _SAFE.sub("_", s).strip("._")[:60] or "student"
        by_slug.setdefault(slug, []).append(s)
    out = {}
    for slug, group in by_slug.items():
        for s in group:
            exact = len(group) == 1 and slug == s
            digest = hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            out[s] = slug if exact else f"{slug}-{digest}"
        if len(group) > 1:
            shown = ", ".join(repr(g) for g in group[:5])
            notes.append(f"students {shown} share the file name `{slug}`: told apart by a hash")
    folded: dict[str, list[str]] = {}
    for s in out:
        key = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().casefold()
        folded.setdefault(key, []).append(s)
    for group in folded.values():
        if len(group) > 1:
            shown = ", ".join(repr(g) for g in group[:5])
            notes.append(f"students {shown} look alike (case, accents): check they are different")
    return out


# ---- the workers -----------------------------------------------------------------------------


def _hard_limit(budget: float) -> float:
    """A last-resort limit for one submission (the worker limits itself well before): the
    notebook's budget plus the checks and kernel starts — not growing with the cell count."""
    return budget + 900.0


def _failed_row(sub: Submission, reason: str, lesson_override: str | None = None) -> dict[str, Any]:
    from rlcourse.grading._worker import _not_graded, _row, identify_lesson

    syl = load_syllabus()
    lesson = syl.lesson(lesson_override) if lesson_override else None
    if lesson is None:
        lesson, _ = identify_lesson(None, sub.file.name, syl)
    row = _row({"student": sub.student, "display": sub.display}, lesson)
    row["errors"].append(reason)
    _not_graded(row, reason)
    return row


def _stop(proc: subprocess.Popen) -> None:
    """Stop a grading process and everything in its session (SIGTERM, then SIGKILL)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _kill_uid(uid: int) -> None:
    from rlcourse.grading._worker import _proc_table

    for pid, (_ppid, u) in _proc_table().items():
        if u == uid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


class _Worker:
    """A grading process (the judge) that takes one submission after another; it is replaced
    when it fails or overruns. Requests and rows travel over its stdin and stdout pipes."""

    def __init__(self, slot: int, settings: dict[str, Any]) -> None:
        self.proc: subprocess.Popen | None = None
        self.slot = slot
        self.settings = settings
        self.count = 0
        self.err_path = Path(settings["tmp"]) / f"worker{slot}-stderr.txt"

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            env = dict(os.environ, PYTHONSAFEPATH="1")
            env["RLCOURSE_GRADER_MPLCONFIGDIR"] = self.settings.get("mpl", "")
            with self.err_path.open("ab") as err:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "rlcourse.grading._worker"],
                    cwd=self.settings["tmp"],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,
                )
        return self.proc

    def _read_line(self, limit: float) -> bytes | str:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        deadline = time.monotonic() + limit
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return f"grading took longer than {limit:g} s and was stopped"
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return "the grading process failed"
                buf += chunk
                if len(buf) > MAX_ROW_BYTES:
                    return "the grading process sent an oversized row"
        return bytes(buf[: buf.index(b"\n")])

    def grade(self, sub: Submission) -> dict[str, Any]:
        self.count += 1
        st = self.settings
        uid = st["uid_base"] + self.slot if st["isolate"] == "user" else None
        request = {
            "file": str(sub.file.absolute()),
            "student": sub.student,
            "display": sub.display,
            "timeout": st["timeout"],
            "budget": st["budget"],
            "memory": st["memory"],
            "nproc": st["nproc"],
            "lesson": st["lesson"],
            "tmp": st["tmp"],
            "n": self.count,
            "uid": uid,
            "mounts": st.get("mounts", {}),
        }
        start = time.monotonic()
        limit = _hard_limit(st["budget"])
        reason = ""
        for attempt in range(2):  # a worker killed from outside gets one more try
            try:
                proc = self._start()
                assert proc.stdin is not None
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
                line = self._read_line(limit)
            except OSError as exc:
                line = f"the grading process failed: {exc}"
            reason = line if isinstance(line, str) else ""
            if not reason:
                try:
                    return validate_row(json.loads(line), sub, st["lesson"])
                except (ValueError, TypeError, KeyError) as exc:
                    reason = f"the grading process returned a malformed row ({exc})"
            self.close()
            if uid is not None:
                _kill_uid(uid)
            if not reason.startswith("the grading process failed") or attempt:
                break
        tail = self._stderr_tail()
        row = _failed_row(sub, reason + (f" ({tail})" if tail else ""), st["lesson"])
        row["time_s"] = round(time.monotonic() - start, 1)
        return row

    def _stderr_tail(self) -> str:
        try:
            text = self.err_path.read_bytes()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [x.strip() for x in text.splitlines() if x.strip()]
        return lines[-1][:300] if lines else ""

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


def validate_row(row: Any, sub: Submission, lesson_override: str | None = None) -> dict[str, Any]:
    """A worker's row, checked field by field against the syllabus (ValueError if not)."""
    if type(row) is not dict:
        raise ValueError("not an object")
    syl = load_syllabus()
    lesson_id = row.get("lesson")
    if type(lesson_id) is not str:
        raise ValueError("lesson")
    spec = syl.lesson(lesson_id) if lesson_id else None
    exercises = row.get("exercises")
    expected = [(e.id, e.name, e.points) for e in spec.exercises] if spec else []
    if type(exercises) is not list or len(exercises) != len(expected):
        raise ValueError("exercises")
    clean_ex = []
    for e, (qid, name, points) in zip(exercises, expected, strict=True):
        if type(e) is not dict or e.get("id") != qid or e.get("name") != name:
            raise ValueError(f"exercise {qid}")
        status = e.get("status")
        if status not in STATUSES:
            raise ValueError(f"status of {qid}")
        got = e.get("points")
        if type(got) is not int or got != (points if status == "correct" else 0):
            raise ValueError(f"points of {qid}")
        message, flag, level = e.get("message"), e.get("flag", ""), e.get("hint_level")
        if type(message) is not str or type(flag) is not str or type(level) is not int:
            raise ValueError(f"fields of {qid}")
        clean_ex.append(
            {
                "id": qid,
                "name": name,
                "status": status,
                "points": got,
                "max_points": points,
                "message": message[:4000],
                "hint_level": max(0, min(level, 99)),
                "flag": flag[:600],
            }
        )
    errors = row.get("errors")
    if type(errors) is not list or not all(type(x) is str for x in errors):
        raise ValueError("errors")
    time_s, flags = row.get("time_s"), row.get("flags", 0)
    if type(time_s) not in (int, float) or type(flags) is not int:
        raise ValueError("time_s or flags")
    return {
        "student": sub.student,
        "file": sub.display,
        "lesson": spec.id if spec else "",
        "lesson_title": spec.title if spec else "",
        "exercises": clean_ex,
        "total": sum(e["points"] for e in clean_ex),
        "max_points": spec.points if spec else 0,
        "time_s": round(float(time_s), 1),
        "errors": [" ".join(x.split())[:600] for x in errors[:60]],
        "flags": max(flags, sum(1 for e in clean_ex if e["flag"])),
    }


# ---- settings and the run's private folder ---------------------------------------------------


def _clean_stale_folders() -> None:
    """Remove the private folders of earlier runs whose grader no longer exists."""
    for p in Path(tempfile.gettempdir()).glob("rlcourse-grade-*"):
        m = re.match(r"rlcourse-grade-(\d+)-", p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            pass


def _prepare_matplotlib(folder: Path) -> str:
    """A matplotlib font cache for the kernels: the grader's own, else built once per run;
    each work folder gets a copy."""
    mpl = folder / "mpl"
    mpl.mkdir()
    for cache in (os.environ.get("MPLCONFIGDIR"), Path.home() / ".cache" / "matplotlib"):
        fonts = sorted(Path(cache).glob("fontlist-*.json")) if cache else []
        if fonts:
            with contextlib.suppress(OSError):
                shutil.copy(fonts[-1], mpl / fonts[-1].name)
                return str(mpl)
    env = dict(os.environ, MPLCONFIGDIR=str(mpl), MPLBACKEND="Agg")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
    return str(mpl)


def _mounts(paths: Sequence[str | Path], out: Path) -> dict[str, list[str]]:
    import rlcourse

    hide = [str(Path.home()), tempfile.gettempdir(), str(out.resolve()), os.getcwd()]
    for p in paths:
        q = Path(p).resolve()
        hide.append(str(q if q.is_dir() else q.parent))
    exe = Path(sys.executable)
    read_only = {sys.prefix, sys.base_prefix, str(exe.parent), str(exe.resolve().parent)}
    read_only.add(str(Path(rlcourse.__file__).resolve().parent.parent))
    from rlcourse.paths import project_root

    read_only.add(str(project_root() / "course"))  # the syllabus; not lessons/ or solutions/
    read_only = {str(Path(p).resolve()) for p in read_only}
    return {"hide": sorted(set(hide)), "read_only": sorted(read_only)}


def check_user_mode(settings: dict[str, Any]) -> None:
    """Raise ValueError unless a kernel can start as another user here (root, Linux, mount
    namespaces, an interpreter and rlcourse readable once the home folder is hidden)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise ValueError("isolate: 'user' needs Linux and root (each kernel gets its own user)")
    work = Path(settings["tmp"]) / "probe"
    work.mkdir(mode=0o700)
    uid = settings["uid_base"]
    os.chown(work, uid, uid)
    config = {"as": settings["memory"], "nproc": settings["nproc"], "uid": uid, "gid": uid}
    config.update(settings["mounts"], writable=[str(work)])
    cmd = [sys.executable, "-m", "rlcourse.grading._sandbox", json.dumps(config), "--"]
    cmd += [sys.executable, "-c", "import numpy, rlcourse.exercises, ipykernel"]
    from rlcourse.grading._kernel import kernel_env

    proc = subprocess.run(
        cmd, env=kernel_env(work), cwd=work, capture_output=True, timeout=120, check=False
    )
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.decode(errors="replace").split())[-300:]
        raise ValueError(f"isolate: 'user' does not work on this machine: {tail}")


def _settings_key(settings: dict[str, Any]) -> str:
    keep = {k: settings[k] for k in ("timeout", "budget", "memory", "nproc", "lesson", "isolate")}
    return json.dumps(keep, sort_keys=True)


def _sha256(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _positive(name: str, value: Any, kind: type = float) -> Any:
    ok = not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
    if not ok or not value > 0 or (kind is float and value != value):  # noqa: PLR0124 — NaN
        what = "a positive integer" if kind is int else "a finite positive number"
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return value


def grade(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    timeout: float = 60.0,
    jobs: int | None = None,
    progress: bool = True,
    budget: float | None = None,
    memory_mb: int = 4096,
    nproc: int = 256,
    lesson: str | None = None,
    isolate: str = "process",
    uid_base: int = 61000,
    restart: bool = False,
) -> GradeReport:
    """Grade every submission in ``paths`` and write the gradebook and feedback to ``out_dir``.

    ``timeout`` limits each notebook cell (s); ``budget`` the whole notebook (s; default
    ``max(10 × timeout, 300)``, whatever the number of cells); ``memory_mb`` the kernel's
    address space; ``nproc`` its processes (enforced for ``isolate="user"`` only: root is not
    limited); ``jobs`` how many submissions are graded at once (default: the number of cores);
    ``lesson`` overrides the lesson of every notebook; ``isolate`` is ``"process"`` or
    ``"user"`` (root only: a user id per job from ``uid_base``, hidden folders, read-only
    installation). Rows already in ``out_dir`` for unchanged files are kept unless
    ``restart``. Interrupting (Ctrl-C) keeps every row graded so far.
    """
    from rlcourse._validate import check_positive

    timeout = check_positive("timeout", timeout)
    budget = check_positive("budget", budget) if budget is not None else max(10 * timeout, 300.0)
    memory_mb = _positive("memory_mb", memory_mb, int)
    nproc = _positive("nproc", nproc, int)
    uid_base = _positive("uid_base", uid_base, int)
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"jobs: expected a positive integer, got {jobs!r}")
    if isolate not in ISOLATION_MODES:
        raise ValueError(f"isolate: expected one of {ISOLATION_MODES}, got {isolate!r}")
    syl = load_syllabus()
    if lesson is not None:
        lesson = str(lesson).zfill(2) if str(lesson).isdigit() else str(lesson)
        try:
            syl.lesson(lesson)
        except KeyError:
            known = ", ".join(x.id for x in syl.lessons)
            raise ValueError(f"lesson: expected one of {known}, got {lesson!r}") from None
    out = Path(out_dir)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(f"out_dir: expected a folder, got {out} (a file or a symbolic link)")
    if (out / "feedback").exists() and not (out / "feedback").is_dir():
        raise ValueError(f"out_dir: {out / 'feedback'} exists and is not a folder")
    warnings: list[str] = []
    subs = find_submissions(paths, syl, warnings)
    if not subs:
        raise ValueError(f"PATH: no notebooks (*.ipynb) found in {', '.join(map(str, paths))}")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    book = _Book(out, subs, warnings, restart)
    _clean_stale_folders()
    tmp = Path(tempfile.mkdtemp(prefix=f"rlcourse-grade-{os.getpid()}-"))
    os.chmod(tmp, 0o711)
    settings: dict[str, Any] = {
        "timeout": timeout,
        "budget": float(budget),
        "memory": memory_mb * 2**20,
        "nproc": nproc,
        "lesson": lesson,
        "isolate": isolate,
        "uid_base": uid_base,
        "tmp": str(tmp),
    }
    key = _settings_key(settings)
    hashes = {s.display: _sha256(s.file) for s in subs if not s.refused}
    todo = []
    for s in subs:
        if s.refused:
            book.add(_failed_row(s, s.refused, lesson), "", key)
        elif book.reusable(s, hashes[s.display], key):
            book.resumed += 1
        else:
            todo.append(s)
    workers: list[_Worker] = []
    try:
        if todo:
            settings["mpl"] = _prepare_matplotlib(tmp)
            if isolate == "user":
                settings["mounts"] = _mounts(paths, out)
                check_user_mode(settings)
            n_workers = min(n_jobs, len(todo))
            workers = [_Worker(i, settings) for i in range(n_workers)]
            _run(todo, workers, book, hashes, key, progress)
    finally:
        for w in workers:
            w.close()
        _keep_log(tmp, out)
        shutil.rmtree(tmp, ignore_errors=True)
    book.finish()
    return book.report()


def _keep_log(tmp: Path, out: Path) -> None:
    """The grading processes' own error output (tracebacks), kept in ``out/grading-log.txt``."""
    parts = []
    for p in sorted(tmp.glob("worker*-stderr.txt")):
        with contextlib.suppress(OSError):
            text = p.read_bytes()[-200_000:].decode("utf-8", "replace").strip()
            if text:
                parts.append(f"== {p.name} ==\n{text}\n")
    if parts:
        with contextlib.suppress(OSError):
            _atomic_write(out / "grading-log.txt", "".join(parts))


def _run(
    todo: list[Submission],
    workers: list[_Worker],
    book: _Book,
    hashes: dict[str, str],
    key: str,
    progress: bool,
) -> None:
    idle: queue.Queue[_Worker] = queue.Queue()
    for w in workers:
        idle.put(w)
    stopping = threading.Event()

    def task(sub: Submission) -> dict[str, Any] | None:
        if stopping.is_set():
            return None
        worker = idle.get()
        try:
            return None if stopping.is_set() else worker.grade(sub)
        finally:
            idle.put(worker)

    from tqdm import tqdm

    bar = tqdm(
        total=len(todo),
        desc="grading",
        unit="notebook",
        disable=not progress or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    pool = ThreadPoolExecutor(max_workers=len(workers))
    try:
        futures = {pool.submit(task, s): s for s in todo}
        for fut in as_completed(futures):
            row = fut.result()
            if row is not None:
                book.add(row, hashes[futures[fut].display], key)
            bar.update(1)
    except BaseException:
        stopping.set()
        for w in workers:
            w.close()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


class _Book:
    """The gradebook in ``out``: rows are added one at a time and every file is rewritten
    atomically after each, so whatever happens later, what was graded is kept."""

    def __init__(
        self, out: Path, subs: list[Submission], warnings: list[str], restart: bool
    ) -> None:
        self.out = out
        self.warnings = warnings
        self.resumed = 0
        self.names = feedback_names([s.student for s in subs], warnings)
        self.rows: dict[str, dict[str, Any]] = {}
        self.current = {s.display for s in subs}
        self.old: dict[str, dict[str, Any]] = {}
        path = out / "gradebook.json"
        if not restart and path.is_file() and not path.is_symlink():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                for r in doc.get("submissions", []):
                    if isinstance(r, dict) and isinstance(r.get("file"), str):
                        self.old[r["file"]] = r
            except (OSError, ValueError, AttributeError):
                warnings.append(f"{path}: unreadable, not resumed")
        # every earlier row stays until its file's new row replaces it (rows of other files
        # graded into the same folder stay for good)
        self.rows.update(self.old)

    def reusable(self, sub: Submission, sha: str, key: str) -> bool:
        r = self.old.get(sub.display)
        if r and sha and r.get("sha256") == sha and r.get("settings") == key:
            self.rows[sub.display] = r
            return True
        return False

    def add(self, row: dict[str, Any], sha: str, key: str) -> None:
        row = dict(row, sha256=sha, settings=key)
        self.rows[row["file"]] = row
        student = row["student"]
        name = self.names.get(student) or feedback_names([student])[student]
        mine = [r for r in self.rows.values() if r["student"] == student]
        for r in mine:
            r["feedback"] = f"feedback/{name}.md"
        try:
            _atomic_write(
                self.out / "feedback" / f"{name}.md",
                feedback_text(student, sorted(mine, key=_sort_key)),
            )
        except OSError as exc:
            self.warnings.append(f"feedback of {student!r} not written: {exc.strerror or exc}")
        self._write_tables()

    def _write_tables(self) -> None:
        ordered = sorted(self.rows.values(), key=_sort_key)
        doc = {"submissions": ordered, "warnings": self.warnings}
        _atomic_write(
            self.out / "gradebook.json",
            json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        )
        _atomic_write(self.out / "gradebook.csv", csv_text(ordered))

    def finish(self) -> None:
        seen: dict[tuple[str, str], list[str]] = {}
        for r in self.rows.values():
            if r["file"] in self.current and r["lesson"]:
                seen.setdefault((r["student"], r["lesson"]), []).append(r["file"])
        for (student, lesson_id), files in sorted(seen.items()):
            if len(files) > 1:
                self.warnings.append(
                    f"{student!r} handed in lesson {lesson_id} {len(files)} times: "
                    + ", ".join(sorted(files))
                )
        self._write_tables()

    def report(self) -> GradeReport:
        ordered = tuple(sorted(self.rows.values(), key=_sort_key))
        return GradeReport(
            ordered,
            self.out / "gradebook.csv",
            self.out / "gradebook.json",
            self.out / "feedback",
            tuple(self.warnings),
            self.resumed,
        )


# ---- writing the gradebook -------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _sort_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["student"], row["lesson"], row["file"])


def _cell(value: Any) -> Any:
    """A spreadsheet cannot take text starting with = + - @ (or a tab, a CR) as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """The gradebook as CSV: one row per submission; exercise columns q1..qK per lesson.
    Text that a spreadsheet would run as a formula is prefixed with ``'``."""
    width = max((len(r["exercises"]) for r in rows), default=0)
    header = ["student", "file", "lesson"]
    for i in range(1, width + 1):
        header += [f"q{i}_status", f"q{i}_points"]
    header += ["total", "max_points", "flags", "time_s", "errors"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        by_id = {e["id"]: e for e in r["exercises"]}
        line = [r["student"], r["file"], r["lesson"]]
        for i in range(1, width + 1):
            e = by_id.get(f"q{i}")
            line += [e["status"], f"{e['points']:g}"] if e else ["", ""]
        line += [f"{r['total']:g}", r["max_points"], r.get("flags", 0), f"{r['time_s']:.1f}"]
        line.append(" | ".join(r["errors"]))
        writer.writerow([_cell(x) for x in line])
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
                lines += ["````text", e["message"] or "(no message)", "````", ""]
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
    warnings: list[str] = []
    names = feedback_names([r["student"] for r in ordered], warnings)
    by_student: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        by_student.setdefault(r["student"], []).append(r)
    for student, student_rows in by_student.items():
        for r in student_rows:
            r["feedback"] = f"feedback/{names[student]}.md"
        _atomic_write(feedback_dir / f"{names[student]}.md", feedback_text(student, student_rows))
    json_path, csv_path = out / "gradebook.json", out / "gradebook.csv"
    doc = {"submissions": list(ordered), "warnings": warnings}
    _atomic_write(json_path, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    _atomic_write(csv_path, csv_text(ordered))
    return GradeReport(ordered, csv_path, json_path, feedback_dir, tuple(warnings))
