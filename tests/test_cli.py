"""The `rlcourse` command: help texts, progress, and `lab` — one fixed work folder, lessons
never overwritten, updates placed beside, signals passed on to Jupyter, a random token."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rlcourse.cli import build_parser, main
from rlcourse.lab import MANIFEST, sync
from rlcourse.paths import lessons_dir

FAKE_JUPYTER = Path(__file__).parent / "fixtures" / "fake_jupyter"
SRC = Path(__file__).resolve().parents[1] / "src"

SUBCOMMANDS = [
    name
    for action in build_parser()._subparsers._group_actions  # noqa: SLF001
    for name in action.choices
]


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("lab", "build", "progress", "reproduce"):
        assert name in SUBCOMMANDS and name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_says_what_it_does(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: rlcourse {name}" in out
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 6, f"`rlcourse {name} --help` needs a description"


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "rlcourse.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: rlcourse" in out.stdout


def test_progress_table(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    entries = [
        {"event": "check", "lesson": "00", "exercise": "q1", "status": "correct", "score": 2},
        {"event": "check", "lesson": "00", "exercise": "q2", "status": "incorrect", "score": 0},
        {"event": "hint", "lesson": "00", "exercise": "q2", "level": 2},
    ]
    path.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    assert main(["progress", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("00"))
    assert "2/8" in row and "2/3" in row and "1/3" in row
    assert "3 entries" in out


def test_lab_dry_run_copies_nothing(tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["lab", "--dir", str(work), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert not work.exists(), "--dry-run must not create or copy anything"
    assert "would copy 11 lesson(s)" in out and str(work) in out
    assert f"--ServerApp.root_dir={work}" in out
    assert "--LabApp.default_url=/lab/tree/00_welcome.ipynb" in out


def test_lab_folder_is_fixed_by_default_and_overridable(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RLCOURSE_LESSONS_DIR", raising=False)
    assert main(["lab", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"your notebooks: {tmp_path / 'home' / 'rlcourse-lessons'} (the default;" in out
    monkeypatch.setenv("RLCOURSE_LESSONS_DIR", str(tmp_path / "env-dir"))
    assert main(["lab", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"your notebooks: {tmp_path / 'env-dir'} (from RLCOURSE_LESSONS_DIR)" in out
    assert main(["lab", "--dry-run", "--dir", str(tmp_path / "flag")]) == 0
    assert f"your notebooks: {tmp_path / 'flag'} (from --dir)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [], "a dry run leaves no folder behind"


def _fake_course(tmp_path: Path) -> Path:
    course = tmp_path / "course-lessons"
    course.mkdir()
    for name in ("00_welcome.ipynb", "01_a.ipynb"):
        (course / name).write_text(f"course v1 of {name}")
    return course


def test_sync_never_overwrites_and_places_updates_beside(tmp_path):
    course, work = _fake_course(tmp_path), tmp_path / "work"
    first = sync(course, work)
    assert first.copied == ["00_welcome.ipynb", "01_a.ipynb"]
    assert (work / MANIFEST).is_file()
    (work / "01_a.ipynb").write_text("my answers")
    # the student's edits are not a course update
    again = sync(course, work, update=True)
    assert again.copied == [] and again.placed_beside == [] and again.pending == []
    # the course changes lesson 01 and adds lesson 02
    (course / "01_a.ipynb").write_text("course v2")
    (course / "02_b.ipynb").write_text("course v1 of 02")
    plain = sync(course, work)
    assert plain.copied == ["02_b.ipynb"] and plain.pending == ["01_a.ipynb"]
    assert (work / "01_a.ipynb").read_text() == "my answers"
    dry = sync(course, work, update=True, dry_run=True)
    assert dry.placed_beside == [("01_a.ipynb", "01_a (updated).ipynb")]
    assert not (work / "01_a (updated).ipynb").exists()
    upd = sync(course, work, update=True)
    assert upd.placed_beside == [("01_a.ipynb", "01_a (updated).ipynb")]
    assert (work / "01_a.ipynb").read_text() == "my answers"
    assert (work / "01_a (updated).ipynb").read_text() == "course v2"
    assert sync(course, work, update=True).placed_beside == []  # delivered once
    # a third version while the student edits the "(updated)" copy: a new name, nothing lost
    (work / "01_a (updated).ipynb").write_text("my answers on v2")
    (course / "01_a.ipynb").write_text("course v3")
    upd = sync(course, work, update=True)
    assert upd.placed_beside == [("01_a.ipynb", "01_a (updated 2).ipynb")]
    assert (work / "01_a (updated).ipynb").read_text() == "my answers on v2"
    assert (work / "01_a.ipynb").read_text() == "my answers"


def test_lab_update_through_the_command(tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["lab", "--dir", str(work), "--dry-run"]) == 0
    assert sync(lessons_dir(), work).copied  # what a real start copies
    (work / "00_welcome.ipynb").write_text("my answers")
    capsys.readouterr()
    assert main(["lab", "--dir", str(work), "--update", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would copy" not in out and "would place" not in out
    assert (work / "00_welcome.ipynb").read_text() == "my answers"


def test_lab_refuses_a_file_as_folder(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["lab", "--dir", str(target), "--dry-run"]) == 2
    assert "--dir: expected a folder" in capsys.readouterr().err


# ---- signals: `rlcourse lab` passes SIGINT/SIGTERM on to Jupyter and waits for it ----------

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups")


def _events(log: Path) -> list[dict]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _wait_for(log: Path, event: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in _events(log):
            if e["event"] == event:
                return e
        time.sleep(0.05)
    raise AssertionError(f"the fake Jupyter never logged {event!r}: {_events(log)}")


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_lab(tmp_path: Path, *args: str, mode: str = "obey", code: str | None = None):
    log = tmp_path / "fake.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FAKE_JUPYTER), str(SRC)]),
        "FAKE_JUPYTER_LOG": str(log),
        "FAKE_JUPYTER_MODE": mode,
    }
    if code is None:
        cmd = [sys.executable, "-m", "rlcourse.cli", "lab", "--dir", str(tmp_path / "w"), *args]
    else:
        cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    return proc, log


def _finish(proc: subprocess.Popen, child_pid: int, timeout: float = 30.0) -> int:
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
            raise AssertionError("the Jupyter child outlived `rlcourse lab`")
    return rc


@posix_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_lab_passes_signals_on_and_waits_for_jupyter(tmp_path, sig):
    proc, log = _start_lab(tmp_path, "--no-browser")
    child = _wait_for(log, "ready")
    assert "lab" in child["argv"] and "--no-browser" in child["argv"]
    assert any(a.endswith("default_url=/lab/tree/00_welcome.ipynb") for a in child["argv"])
    os.kill(proc.pid, sig)
    assert _finish(proc, child["pid"]) == 0
    assert [e["event"] for e in _events(log)][-2:] == ["SIGTERM", "exit"]
    assert "stop the lab with Ctrl+C" in proc.stdout.read()


@posix_only
def test_ctrl_c_in_a_terminal_stops_the_lab(tmp_path):
    """Ctrl+C signals the whole foreground group: Jupyter alone would only ask for
    confirmation; `rlcourse lab` turns it into a shutdown."""
    proc, log = _start_lab(tmp_path)
    child = _wait_for(log, "ready")
    os.killpg(proc.pid, signal.SIGINT)
    assert _finish(proc, child["pid"]) == 0
    events = [e["event"] for e in _events(log)]
    assert events[-2:] == ["SIGTERM", "exit"]  # (its own SIGINT may come first or not at all)


@posix_only
def test_a_server_that_will_not_stop_is_killed_after_the_grace_period(tmp_path):
    code = (
        "import sys; from rlcourse.lab import run_jupyter; "
        "sys.exit(run_jupyter([sys.executable, '-m', 'jupyter', 'lab'], grace=0.5))"
    )
    proc, log = _start_lab(tmp_path, mode="stubborn", code=code)
    child = _wait_for(log, "ready")
    os.kill(proc.pid, signal.SIGTERM)
    assert _finish(proc, child["pid"]) == 128 + signal.SIGKILL
    assert "exit" not in [e["event"] for e in _events(log)]


# ---- the real server: a random token, nothing left running -------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.geturl()
    except urllib.error.HTTPError as err:
        return err.code, url


def test_lab_serves_the_lessons_and_requires_a_token(tmp_path):
    import psutil

    port, token = _free_port(), secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    cmd = [sys.executable, "-m", "rlcourse.cli", "lab", "--dir", str(tmp_path / "work")]
    cmd += ["--no-browser", "--port", str(port), "--", "--ServerApp.ip=127.0.0.1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        status = None
        while time.time() < deadline:
            try:
                status, _ = _get(f"{base}/api/contents/00_welcome.ipynb?token={token}")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert status == 200, "the server did not serve the lesson with the token"
        # a running kernel, as when a lesson is open: stopping the lab must stop it too
        start = urllib.request.Request(
            f"{base}/api/kernels",
            data=b"{}",
            method="POST",
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(start, timeout=60) as resp:
            kernel_id = json.loads(resp.read())["id"]
        assert kernel_id

        def kernels() -> list[psutil.Process]:
            found = []
            for c in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if "ipykernel" in " ".join(c.cmdline()):
                        found.append(c)
                except psutil.Error:
                    continue
            return found

        deadline = time.time() + 60
        while not kernels() and time.time() < deadline:
            time.sleep(0.5)
        assert kernels(), "no kernel process started"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert _get(f"{base}/api/contents/00_welcome.ipynb")[0] in (401, 403)
        assert _get(f"{base}/api/contents/00_welcome.ipynb?token=wrong")[0] in (401, 403)
        status, landed = _get(f"{base}/?token={token}")
        assert status == 200 and landed.split("?")[0].endswith("/lab/tree/00_welcome.ipynb")
    finally:
        proc.terminate()  # SIGTERM to `rlcourse lab` only: it must stop Jupyter itself
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert children, "the lab runs Jupyter as a child"
    gone, alive = psutil.wait_procs(children, timeout=20)
    for p in alive:
        p.kill()
    assert not alive, f"left running after `rlcourse lab` stopped: {alive}"
