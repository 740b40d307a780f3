"""The suite's own guards: no test leaves a Jupyter process behind, and no Jupyter token is
written anywhere in the repository (a fixed token lets anyone on a shared machine run code
as the student)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".ruff_cache", ".hypothesis"}
TEXT = {".py", ".md", ".toml", ".cfg", ".ipynb", ".json", ".yml", ".yaml", ".txt", ".sh", ""}

# a token value written down: JUPYTER_TOKEN=..., --ServerApp.token=..., c.X.token = "...",
# token = "...", a URL's ?token=<literal of 8+ characters>
_FIXED_TOKEN = [
    re.compile(r"JUPYTER_TOKEN=[A-Za-z0-9_\-]{4,}"),
    re.compile(r"JUPYTER_TOKEN['\"]\]?\s*[:=]\s*['\"][^'\"{]{4,}['\"]"),
    re.compile(r"\.token\s*=\s*['\"]?[A-Za-z0-9_\-]{4,}"),
    re.compile(r"\btoken\w*\s*=\s*['\"][^'\"]{4,}['\"]"),
    re.compile(r"\btoken\b[^=\n]*=[^\n]*,\s*['\"][^'\"]{4,}['\"]\s*$", re.M),
    re.compile(r"[?&]token=[A-Za-z0-9_\-]{8,}"),
]


def _text_files():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in TEXT and path.stat().st_size < 5_000_000:
                yield path


def test_no_fixed_jupyter_token_in_the_repository():
    found = []
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in _FIXED_TOKEN:
            for m in pattern.finditer(text):
                found.append(f"{path.relative_to(ROOT)}: {m.group(0)[:80]}")
    assert not found, "a Jupyter token is written in the repository:\n" + "\n".join(found)


def test_the_token_patterns_catch_what_they_should():
    bad = [
        'env["JUPYTER_TOKEN"] = "' + "abc" + 'def"',
        "--ServerApp" + ".token=" + "s3cret-value",
        "port, tok" + 'en = free_port(), "course-' + 'test-token"',
        "http://localhost:8888/lab?tok" + "en=" + "0123456789abcdef",
    ]
    for line in bad:
        assert any(p.search(line) for p in _FIXED_TOKEN), line
    good = [
        "token = secrets.token_urlsafe(24)",
        'url = f"{base}?token={token}"',
        "?token=wrong",
        '{"JUPYTER_TOKEN": token}',
    ]
    for line in good:
        assert not any(p.search(line) for p in _FIXED_TOKEN), line


INNER_TEST = """
import subprocess, sys

def test_starts_a_server_and_forgets_it():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "jupyter-lab-standin"])
"""


def test_a_session_that_leaves_a_jupyter_process_fails_and_cleans_up(tmp_path):
    import psutil

    shutil.copy2(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    mark = secrets.token_hex(8)  # a fresh session mark: only the inner session's processes
    env = {**os.environ, "RLCOURSE_TEST_SESSION": mark, "RLCOURSE_LEFTOVER_GRACE": "1"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the inner session needs no plugin: faster
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "tests left Jupyter processes running (now killed)" in proc.stdout
    assert "jupyter-lab-standin" in proc.stdout

    def marked() -> list:
        out = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if "jupyter-lab-standin" in (p.info["cmdline"] or []):
                    if p.environ().get("RLCOURSE_TEST_SESSION") == mark:
                        out.append(p)
            except psutil.Error:
                continue
        return out

    _, alive = psutil.wait_procs(marked(), timeout=5)
    for p in alive:
        p.kill()
    assert not alive, "the leftover process was not killed"
