"""The course website: ``rlcourse site --out DIR`` builds it with Jupyter Book 1 (Sphinx).

The pages are the *student* lessons of ``lessons/``, executed here (every check says *not
attempted*, figures and tables are drawn) — never ``solutions/``, whose answers would then be
public. The syllabus is the table of contents and the home page. Every lesson page carries
launch buttons (Binder, a JupyterHub through nbgitpuller, Colab) built from
``course/publish.toml``, and a download button for its notebook.

Layout of ``DIR``: ``source/`` (the book: ``_config.yml``, ``_toc.yml``, ``index.md`` and the
executed lessons) and ``_build/html/`` (the site; open ``index.html`` or serve the folder).
Needs the ``site`` extra: ``pip install "rlcourse[site]"`` (Jupyter Book < 2, which builds
offline).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from rlcourse._imports import without_iri_checker
from rlcourse.paths import lessons_dir
from rlcourse.publish import Publish, load_publish
from rlcourse.syllabus import Syllabus, load_syllabus

__all__ = ["SiteReport", "book_config", "build_site", "home_page", "table_of_contents"]

INSTALL_HINT = 'the website needs the site extra: python -m pip install "rlcourse[site]"'


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` made: the HTML folder, one page per lesson, and its cost."""

    html: Path
    pages: tuple[Path, ...]
    seconds: float
    size_bytes: int
    warnings: tuple[str, ...]


def book_config(syllabus: Syllabus, publish: Publish) -> dict[str, Any]:
    """Jupyter Book's ``_config.yml``: launch buttons, download button, no re-execution."""
    return {
        "title": syllabus.title,
        "author": "rlcourse",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},  # executed beforehand by build_site
        "repository": {
            "url": publish.repository,
            "path_to_book": "lessons",  # the pages' notebooks live in lessons/ of the repo
            "branch": publish.branch,
        },
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": publish.binderhub,
            "jupyterhub_url": publish.jupyterhub,
            "colab_url": publish.colab,
            "thebe": False,
        },
        "html": {"use_repository_button": True, "use_download_button": True},
        "sphinx": {"config": {"html_show_copyright": False, "nb_merge_streams": True}},
    }


def table_of_contents(syllabus: Syllabus) -> dict[str, Any]:
    """Jupyter Book's ``_toc.yml``: the home page, then the lessons in the syllabus's order."""
    return {
        "format": "jb-book",
        "root": "index",
        "chapters": [{"file": lesson.slug} for lesson in syllabus.lessons],
    }


def home_page(syllabus: Syllabus, publish: Publish) -> str:
    """The home page: what the course is, how to run a lesson, and the syllabus."""
    folder = publish.repository.rsplit("/", 1)[-1].removesuffix(".git")
    lines = [
        f"# {syllabus.title}",
        "",
        "A Jupyter-first course in multi-agent reinforcement learning. Each lesson explains one "
        "idea, then asks you to write it; a check tells you at once whether your code is right.",
        "",
        "## Running a lesson",
        "",
        "The pages show each lesson as a student receives it, run once with no exercise "
        "attempted. To work on one, use the rocket button at the top of its page: "
        "**Binder** (a free temporary machine, nothing to install; work is lost when it "
        "stops), **JupyterHub** (your course's hub, if it has one) or **Colab** (the first code "
        "cell installs the course there). The download button gives the notebook itself. On "
        "your own machine:",
        "",
        "```bash",
        f"git clone {publish.repository} && cd {folder}",
        "python -m pip install -e . && rlcourse lab",
        "```",
        "",
        "## Lessons",
        "",
    ]
    for lesson in syllabus.lessons:
        lines.append(
            f"- [{lesson.id} — {lesson.title}]({lesson.slug}.ipynb) "
            f"({lesson.points} points, about {lesson.minutes} minutes)"
        )
        lines.extend(f"  - {objective}" for objective in lesson.objectives)
    return "\n".join(lines) + "\n"


def _execute(path: Path, timeout: float) -> None:
    """Run one notebook in place, in a fresh kernel reached through local sockets.

    Unix-domain sockets (``transport="ipc"``) where available: with TCP, kernels started at the
    same moment on a busy machine can race for the same ports.
    """
    from jupyter_client.manager import KernelManager

    from rlcourse._nbexec import SteadyClient

    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    with tempfile.TemporaryDirectory(prefix="rlcourse-site-") as sockets:
        km = KernelManager(kernel_name="python3")
        if os.name == "posix":
            km.transport, km.ip = "ipc", os.path.join(sockets, "kernel")
        client = SteadyClient(nb, km=km, timeout=timeout, resources=resources)
        client.execute(env={**os.environ, "RLCOURSE_PROGRESS": "off"})  # records no progress
    nbformat.write(nb, path)


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def build_site(
    out: Path | str,
    *,
    syllabus: Syllabus | None = None,
    lessons: Path | None = None,
    publish: Publish | None = None,
    timeout: float = 600.0,
    jobs: int = 1,
) -> SiteReport:
    """Execute the student lessons and build the website into ``out`` (see the module doc)."""
    if importlib.util.find_spec("jupyter_book") is None:
        raise ModuleNotFoundError(INSTALL_HINT)
    if jobs < 1:
        raise ValueError(f"jobs: expected an integer >= 1, got {jobs!r}")
    syl = syllabus if syllabus is not None else load_syllabus()
    pub = publish if publish is not None else load_publish()
    src_lessons = lessons if lessons is not None else lessons_dir()
    out = Path(out).resolve()
    source = out / "source"
    started = time.perf_counter()
    if source.exists():
        if not (source / "_toc.yml").is_file():
            raise ValueError(f"out: {source} exists and is not a site source written here")
        shutil.rmtree(source)
    source.mkdir(parents=True)
    targets = []
    for lesson in syl.lessons:
        path = src_lessons / lesson.notebook
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in the syllabus; run `rlcourse build`")
        shutil.copyfile(path, source / lesson.notebook)
        targets.append(source / lesson.notebook)
    if jobs == 1:
        for path in targets:
            _execute(path, timeout)
    else:  # one process per lesson at a time (kernel clients do not share threads well)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=without_iri_checker) as pool:
            list(pool.map(_execute, targets, [timeout] * len(targets)))
    (source / "_config.yml").write_text(_yaml(book_config(syl, pub)), encoding="utf-8")
    (source / "_toc.yml").write_text(_yaml(table_of_contents(syl)), encoding="utf-8")
    (source / "index.md").write_text(home_page(syl, pub), encoding="utf-8")
    html = out / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    cmd = [
        sys.executable,
        "-c",
        "from rlcourse._imports import without_iri_checker; without_iri_checker()\n"
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(source),
        "--path-output",
        str(out),
        "--builder",
        "html",
        "--keep-going",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0 or not (html / "index.html").is_file():
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}):\n{log[-4000:]}")
    warnings = tuple(line for line in log.splitlines() if re.search(r"\bWARNING\b", line))
    pages = tuple(html / f"{lesson.slug}.html" for lesson in syl.lessons)
    size = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
    return SiteReport(html, pages, time.perf_counter() - started, size, warnings)
