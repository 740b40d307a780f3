"""The `rlcourse` command: help texts, progress, and `lab` serving the lessons with a token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from rlcourse.cli import build_parser, main

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


def test_lab_copies_lessons_without_overwriting(tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["lab", "--dir", str(work), "--dry-run"]) == 0
    first = capsys.readouterr().out
    assert "copied" in first and (work / "00_welcome.ipynb").is_file()
    assert f"--ServerApp.root_dir={work}" in first
    (work / "00_welcome.ipynb").write_text("my answers")
    assert main(["lab", "--dir", str(work), "--dry-run", "--no-browser"]) == 0
    assert (work / "00_welcome.ipynb").read_text() == "my answers"
    assert "--no-browser" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_lab_serves_the_lessons_and_requires_a_token(tmp_path):
    port, token = _free_port(), "course-test-token"
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlcourse.cli",
            "lab",
            "--dir",
            str(tmp_path / "work"),
            "--no-browser",
            "--port",
            str(port),
            "--",
            "--ServerApp.ip=127.0.0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        status = None
        while time.time() < deadline:
            try:
                status = _get(f"{base}/api/contents/00_welcome.ipynb?token={token}")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert status == 200, "the server did not serve the lesson with the token"
        assert _get(f"{base}/api/contents/00_welcome.ipynb") in (401, 403)
        assert _get(f"{base}/api/contents/00_welcome.ipynb?token=wrong") in (401, 403)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
