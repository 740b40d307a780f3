"""binder/: the files repo2docker reads, replayed offline in a fresh virtual environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest

from rlcourse.paths import project_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = project_root()
BINDER = ROOT / "binder"
NETWORK = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Network is unreachable"
)


def _names(requirements: list[str]) -> set[str]:
    names = set()
    for req in requirements:
        if ";" in req and "python_version" in req.split(";", 1)[1]:
            continue  # backports for older Pythons than the image's
        names.add(re.match(r"[A-Za-z0-9_.-]+", req.strip()).group(0).lower().replace("_", "-"))
    return names


def test_requirements_list_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = _names(project["dependencies"])
    needed |= _names(project.get("optional-dependencies", {}).get("lab", []))
    lines = (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = _names([x for x in lines if x.strip() and not x.startswith("#")])
    assert needed <= listed, f"missing from binder/requirements.txt: {sorted(needed - listed)}"


def test_runtime_is_a_supported_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lowest = tuple(map(int, re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"]).groups()))
    m = re.fullmatch(r"python-(\d+)\.(\d+)\s*", (BINDER / "runtime.txt").read_text())
    assert m and tuple(map(int, m.groups())) >= lowest
    assert os.access(BINDER / "postBuild", os.X_OK)


def _copy_repository(dst):
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", "my-lessons"
    )
    shutil.copytree(ROOT, dst, ignore=ignore)


def _borrow_dependencies(env_dir) -> None:
    """Let the new environment see this one's installed packages (not its scripts, not its
    editable installs), so replaying the steps needs neither network nor minutes of downloads;
    that the requirements install at all is what CI's own install of the same names shows."""
    purelib = sysconfig.get_paths()["purelib"]
    (site_dir,) = {Path(p) for p in (env_dir / "lib").glob("python*/site-packages")}
    (site_dir / "_borrowed_dependencies.pth").write_text(purelib + "\n", encoding="utf-8")


def test_binder_spec_replayed_in_a_fresh_venv(tmp_path):
    """What repo2docker does, in order: install requirements.txt, then run postBuild from the
    repository's root — here in a new virtual environment on a copy of the repository."""
    if os.name != "posix":
        pytest.skip("repo2docker images are Linux; postBuild is a bash script")
    repo, env_dir = tmp_path / "repo", tmp_path / "venv"
    _copy_repository(repo)
    started = time.perf_counter()
    venv.create(env_dir, with_pip=False)  # pip comes with the borrowed packages
    _borrow_dependencies(env_dir)
    bin_dir = env_dir / "bin"
    outside = [p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RLCOURSE_ROOT")}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), *outside]),
        VIRTUAL_ENV=str(env_dir),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        RLCOURSE_PROGRESS="off",
    )
    python = str(bin_dir / "python")
    req = [python, "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"]
    step = subprocess.run(req, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if step.returncode != 0 and NETWORK.search(step.stdout + step.stderr):
        pytest.skip("no package index reachable to install binder/requirements.txt")
    assert step.returncode == 0, step.stdout + step.stderr
    post = subprocess.run(
        ["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert post.returncode == 0, post.stdout[-3000:] + post.stderr[-3000:]
    assert "rlcourse: installed, lessons checked" in post.stdout
    where = subprocess.run(
        [python, "-c", "import rlcourse; print(rlcourse.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(repo))
    assert (bin_dir / "rlcourse").is_file()
    print(f"binder replay: {time.perf_counter() - started:.1f} s")


@pytest.mark.skipif(shutil.which("repo2docker") is None, reason="repo2docker is not installed")
def test_repo2docker_accepts_the_spec(tmp_path):
    _copy_repository(tmp_path / "repo")
    cmd = ["repo2docker", "--no-build", "--no-run", "--debug", str(tmp_path / "repo")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    dockerfile = done.stdout + done.stderr
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"python={version}" in dockerfile  # runtime.txt was read
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
