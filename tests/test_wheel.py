"""The built wheel works anywhere: installed in a fresh virtual environment with the core
dependencies only, every lesson's checks import and run from an empty folder.

Slow-ish (it builds a wheel and installs numpy and matplotlib into a new environment from the
package index), so it is marked ``slow``; it still runs with the rest of the suite and in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# Run inside the fresh environment, from an empty folder: every lesson's checks accept the
# reference and call the untouched stub "not attempted".
_PROBE = r"""
import importlib.util, json, sys
from pathlib import Path
import rlcourse
from rlcourse.exercises import exercises_of
from rlcourse.exercises.framework import Status
from rlcourse.paths import syllabus_path
from rlcourse.syllabus import load_syllabus

out = {"file": rlcourse.__file__, "syllabus": str(syllabus_path()), "checks": 0, "bad": []}
tools = ("nbformat", "nbclient", "jupyterlab")
out["missing"] = [m for m in tools if not importlib.util.find_spec(m)]
for lesson in load_syllabus().lessons:
    for qid, ex in exercises_of(lesson.id).items():
        answer = ex.reference if ex.kind == "function" else ex.reference()
        r = ex.check(answer)
        if r.status is not Status.CORRECT:
            out["bad"].append(f"{lesson.id}.{qid}: reference -> {r}")
        if ex.kind == "value":
            stub = ...
        else:
            def stub(*args, **kwargs):
                raise NotImplementedError
        r = ex.check(stub)
        if r.status is not Status.NOT_ATTEMPTED:
            out["bad"].append(f"{lesson.id}.{qid}: stub -> {r}")
        out["checks"] += 2
print(json.dumps(out))
"""


def _clean_env(tmp: Path) -> dict[str, str]:
    """A new user's environment (empty home), keeping pip's own download cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RLCOURSE_"))}
    env.pop("VIRTUAL_ENV", None)
    cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    ).stdout.strip()
    if cache and "PIP_CACHE_DIR" not in env:
        env["PIP_CACHE_DIR"] = cache
    env.update(RLCOURSE_PROGRESS="off", MPLBACKEND="Agg", HOME=str(tmp / "home"))
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{tail}"
    return proc.stdout


def test_wheel_installs_and_runs_every_lesson_check_from_an_empty_folder(tmp_path):
    import json

    env = _clean_env(tmp_path)
    (tmp_path / "home").mkdir()

    # 1. build the wheel from a copy of the sources (the checkout stays untouched)
    src = tmp_path / "src-copy"
    (src / "course").mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copy2(ROOT / "course" / "syllabus.toml", src / "course" / "syllabus.toml")
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(src)],
        tmp_path,
        env,
        timeout=600,
    )
    (wheel,) = dist.glob("rlcourse-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packed = zf.read("rlcourse/syllabus.toml").decode("utf-8")
    assert packed == (ROOT / "course" / "syllabus.toml").read_text(encoding="utf-8")

    # 2. a fresh virtual environment (no system site-packages) with the wheel and its core deps
    venv = tmp_path / "venv"
    # without a pip of its own (setting one up costs more than the rest): ours installs into it
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env, timeout=300)
    py = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    install = [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet"]
    install += ["--no-compile", str(wheel)]
    _run(install, tmp_path, env, timeout=900)

    # 3. from an empty folder: import and run every lesson's checks
    empty = tmp_path / "empty"
    empty.mkdir()
    out = json.loads(_run([str(py), "-c", _PROBE], empty, env, timeout=600).splitlines()[-1])
    assert Path(out["file"]).is_relative_to(venv), out["file"]
    assert Path(out["syllabus"]).is_relative_to(venv), out["syllabus"]
    assert out["bad"] == []
    assert out["checks"] >= 2 * 30
    # the core install stays lean: the notebook tools come with the `lab` extra
    assert out["missing"] == ["nbformat", "nbclient", "jupyterlab"]

    # the commands that need the notebook tools say which extra brings them
    script = venv / ("Scripts" if os.name == "nt" else "bin") / "rlcourse"
    for command in (["build", "--check"], ["grade", "x.ipynb"], ["lab"]):
        proc = subprocess.run(
            [str(script), *command], cwd=empty, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert '"rlcourse[lab]"' in proc.stderr, proc.stderr
    # and the progress table works from the packaged syllabus
    assert "00" in _run([str(script), "progress"], empty, env, timeout=120)
