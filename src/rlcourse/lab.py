"""``rlcourse lab``: the student's work folder and the JupyterLab server on it.

* One fixed work folder (:func:`rlcourse.paths.student_dir`, ``~/rlcourse-lessons`` unless
  ``--dir`` or ``RLCOURSE_LESSONS_DIR`` says otherwise), whatever folder the lab starts from.
* A student's notebook is never overwritten. Lessons missing from the folder are copied in; a
  lesson the course has changed since it was copied is, on ``--update``, placed beside the
  student's own (``05_x (updated).ipynb``). A small manifest in the folder
  (``.rlcourse-lessons.json``) remembers which version of each lesson was delivered, so a
  student's edits are never mistaken for a course update.
* The server runs as a child; SIGINT (Ctrl+C), SIGTERM and SIGHUP received by ``rlcourse lab``
  ask it to shut down (SIGTERM: Jupyter stops its kernels and exits — no confirmation
  prompt), and ``rlcourse lab`` waits for it, so stopping the lab never leaves a server behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FIRST_NOTEBOOK", "MANIFEST", "SyncReport", "jupyter_command", "run_jupyter", "sync"]

MANIFEST = ".rlcourse-lessons.json"
FIRST_NOTEBOOK = "00_welcome.ipynb"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _beside(target: Path, digest: str) -> tuple[Path, bool]:
    """Where an updated version of ``target`` goes: ``NN_x (updated).ipynb``, or
    ``NN_x (updated 2).ipynb`` ... when that name holds something else. The flag says the
    file is already there with this content."""
    n = 1
    while True:
        suffix = " (updated)" if n == 1 else f" (updated {n})"
        path = target.with_name(f"{target.stem}{suffix}{target.suffix}")
        if not path.exists():
            return path, False
        if _digest(path) == digest:
            return path, True
        n += 1


@dataclass
class SyncReport:
    """What :func:`sync` did (or, on a dry run, would do)."""

    work: Path
    copied: list[str] = field(default_factory=list)
    placed_beside: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def lines(self, dry_run: bool = False) -> list[str]:
        would = "would " if dry_run else ""
        out = []
        if self.copied:
            out.append(f"{would}copy {len(self.copied)} lesson(s): {', '.join(self.copied)}")
        for old, new in self.placed_beside:
            out.append(f"{would}place the updated {old} beside yours as: {new}")
        if self.pending:
            out.append(
                f"{len(self.pending)} lesson(s) changed in the course since you got them: "
                f"{', '.join(self.pending)} — `rlcourse lab --update` places the new versions "
                "beside yours (yours are never overwritten)"
            )
        return out


def _read_manifest(work: Path) -> dict[str, str]:
    try:
        data = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
        lessons = data.get("lessons", {})
        return {str(k): str(v) for k, v in lessons.items()} if isinstance(lessons, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def sync(source: Path, work: Path, *, update: bool = False, dry_run: bool = False) -> SyncReport:
    """Bring the lessons of ``source`` into ``work`` without overwriting any file there.

    A lesson missing from ``work`` is copied. A lesson whose course version changed since it
    was delivered is, when ``update`` is true, written beside the student's notebook
    (``NN_x (updated).ipynb``); otherwise it is listed as pending. ``dry_run`` writes nothing
    (no folder, no manifest) and reports what would happen.
    """
    source, work = Path(source), Path(work)
    lessons = sorted(source.glob("*.ipynb"))
    if not lessons:
        raise FileNotFoundError(f"no lesson notebooks in {source}")
    if work.exists() and not work.is_dir():
        raise ValueError(f"--dir: expected a folder, got the file {work}")
    report = SyncReport(work)
    manifest = _read_manifest(work)
    delivered = dict(manifest)
    if not dry_run:
        work.mkdir(parents=True, exist_ok=True)
    for nb in lessons:
        digest = _digest(nb)
        target = work / nb.name
        if not target.exists():
            report.copied.append(nb.name)
            if not dry_run:
                shutil.copyfile(nb, target)
            delivered[nb.name] = digest
        elif delivered.get(nb.name) == digest or _digest(target) == digest:
            report.kept.append(nb.name)
            delivered[nb.name] = digest
        elif update:
            path, present = _beside(target, digest)
            report.placed_beside.append((nb.name, path.name))
            if not dry_run and not present:
                shutil.copyfile(nb, path)
            delivered[nb.name] = digest
        else:
            report.pending.append(nb.name)
    if not dry_run and delivered != manifest:
        text = json.dumps({"lessons": delivered}, indent=1, sort_keys=True) + "\n"
        (work / MANIFEST).write_text(text, encoding="utf-8")
    return report


def jupyter_command(
    work: Path,
    *,
    no_browser: bool = False,
    port: int | None = None,
    extra: Sequence[str] = (),
    first: str = FIRST_NOTEBOOK,
) -> list[str]:
    """The ``jupyter lab`` command serving ``work`` and opening ``first`` (token auth on)."""
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={work}",
        f"--LabApp.default_url=/lab/tree/{first}",
    ]
    if no_browser:
        cmd.append("--no-browser")
    if port:
        cmd.append(f"--port={port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    cmd.extend(extra)
    return cmd


_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def run_jupyter(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, grace: float = 30.0
) -> int:
    """Run ``cmd`` (the Jupyter server) as a child and return its exit status.

    While it runs, SIGINT, SIGTERM and SIGHUP are not acted on here: each is passed on to the
    child as SIGTERM (Jupyter's clean shutdown, which also stops its kernels), then the child
    is waited for. A child still alive ``grace`` seconds after the first signal is killed.
    A child killed by signal ``s`` gives ``128 + s``, as a shell reports it.
    """
    child: list[subprocess.Popen] = []
    asked: list[int] = []
    timer: list[threading.Timer] = []

    def stop_child() -> None:
        proc = child[0]
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:  # it has just exited
            return
        if not timer:
            t = threading.Timer(grace, _kill, args=(proc,))
            t.daemon = True
            t.start()
            timer.append(t)

    def forward(signum: int, frame: object) -> None:
        asked.append(signum)
        if child:
            stop_child()

    # the handlers are in place before the child starts, so no signal can slip between
    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    try:
        child.append(subprocess.Popen(list(cmd), env=env))
        if asked:  # a signal came while the child was starting
            stop_child()
        rc = child[0].wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for t in timer:
            t.cancel()
        if child and child[0].poll() is None:  # only when this function itself failed
            _kill(child[0])
            child[0].wait()
    return rc if rc >= 0 else 128 - rc


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
