"""The ``rlcourse`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rlcourse._optional import MissingExtra


def _cmd_build(args: argparse.Namespace) -> int:
    _require_lab_tools("rlcourse build", "nbformat")
    from rlcourse.build import build

    report = build(check=args.check)
    for name in report.missing_solutions:
        print(f"missing: solutions/{name} (listed in course/syllabus.toml)", file=sys.stderr)
    for name in report.extra_lessons:
        print(f"not in the syllabus: lessons/{name}", file=sys.stderr)
    for name in report.renumbered:
        verb = "repeats cell ids of other notebooks" if args.check else "cell ids made unique"
        print(f"solutions/{name}: {verb}", file=sys.stderr if args.check else sys.stdout)
    if args.check:
        for name in report.stale:
            print(f"stale: lessons/{name} differs from solutions/{name}", file=sys.stderr)
        if report.ok:
            print(f"lessons/ is up to date ({len(report.unchanged)} notebooks)")
            return 0
        print("run `rlcourse build` to regenerate lessons/", file=sys.stderr)
        return 1
    for name in report.written:
        print(f"wrote lessons/{name}")
    print(f"{len(report.written)} written, {len(report.unchanged)} unchanged")
    return 0 if not report.missing_solutions else 1


def _cmd_progress(args: argparse.Namespace) -> int:
    from rlcourse.exercises.progress import format_table, progress_path, read_progress, summarise
    from rlcourse.syllabus import load_syllabus

    path = Path(args.file) if args.file else progress_path()
    entries = read_progress(path)
    print(format_table(summarise(entries, load_syllabus())))
    print(f"\n(progress file: {path}; {len(entries)} entries)")
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from rlcourse.lab import FIRST_NOTEBOOK, jupyter_command, run_jupyter, sync
    from rlcourse.paths import STUDENT_DIR_ENV, lessons_dir, student_dir

    if not args.dry_run:
        _require_lab_tools("rlcourse lab", "jupyterlab", "ipykernel")
    work = (Path(args.dir).expanduser() if args.dir else student_dir()).resolve()
    report = sync(lessons_dir(), work, update=args.update, dry_run=args.dry_run)
    for line in report.lines(dry_run=args.dry_run):
        print(line)
    if args.dir:
        where = "from --dir"
    elif os.environ.get(STUDENT_DIR_ENV, "").strip():
        where = f"from {STUDENT_DIR_ENV}"
    else:
        where = f"the default; --dir or {STUDENT_DIR_ENV} choose another"
    print(f"your notebooks: {work} ({where})")
    print(f"start with {FIRST_NOTEBOOK}; your notebooks are never overwritten by the course")
    cmd = jupyter_command(work, no_browser=args.no_browser, port=args.port, extra=args.jupyter_args)
    if args.dry_run:
        print("would run: " + " ".join(cmd))
        return 0
    print("stop the lab with Ctrl+C (your notebooks stay in the folder above)", flush=True)
    env = {**os.environ}
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return run_jupyter(cmd, env=env)


def _require_lab_tools(what: str, *modules: str) -> None:
    """Fail early, naming the `lab` extra, when a notebook tool is not installed."""
    from importlib.util import find_spec

    from rlcourse._optional import require

    for module in modules:
        if find_spec(module) is None:
            require(module, what)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    if args.paper == "subsample":
        from rlcourse.reproduce.subsample import reproduce
    else:
        from rlcourse.reproduce.games import reproduce
    report = reproduce(out_dir=args.out, quick=args.quick, progress=not args.no_progress)
    print(f"report written to {report}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    _require_lab_tools("rlcourse grade", "nbformat", "nbclient", "ipykernel")
    from rlcourse.grading import grade

    try:
        report = grade(
            args.paths,
            args.out,
            timeout=args.timeout,
            jobs=args.jobs,
            progress=not args.no_progress,
            budget=args.budget,
            memory_mb=args.memory,
            nproc=args.nproc,
            lesson=args.lesson,
            isolate=args.isolate,
            uid_base=args.uid_base,
            restart=args.restart,
        )
    except KeyboardInterrupt:
        print(
            f"rlcourse grade: interrupted; every row graded so far is in {args.out}. "
            "Run the same command again to grade the rest.",
            file=sys.stderr,
        )
        return 130
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    problems = sum(1 for r in report.rows if r["errors"])
    flagged = sum(1 for r in report.rows if r.get("flags"))
    resumed = f" ({report.resumed} kept from the last run)" if report.resumed else ""
    print(
        f"graded {len(report.rows)} submission(s){resumed}, {problems} with problems, "
        f"{flagged} flagged for review: {report.csv_path}, {report.json_path}, "
        f"feedback in {report.feedback_dir}"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from rlcourse.export import export

    written = export(args.to, args.out, args.lesson or None)
    for path in written:
        print(f"wrote {path}")
    if args.to == "nbgrader":
        print(
            f"next, in {args.out}: `nbgrader generate_assignment <lesson>`, collect, "
            "then `nbgrader autograde <lesson>`"
        )
    else:
        print("next, per lesson: `otter assign <lesson>/<lesson>.ipynb dist/<lesson>`")
    return 0


def _add_export_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write the lessons as nbgrader or Otter-Grader source notebooks (instructors)",
        description="Write instructor notebooks made from solutions/ in the format of another "
        "grading tool: nbgrader (DIR/source/<lesson>/<lesson>.ipynb, with solution, autograded "
        "and locked cells) or Otter Assign (DIR/<lesson>/<lesson>.ipynb, with question, "
        "solution and test blocks). Both grade in the student's kernel; see the instructor "
        "guide for what that gives up.",
    )
    p.add_argument("--to", required=True, choices=["nbgrader", "otter"], help="the tool")
    p.add_argument("out", metavar="DIR", help="output folder (for nbgrader: the course folder)")
    p.add_argument(
        "--lesson",
        action="append",
        default=[],
        help="a lesson id such as 00 (repeatable; default: every lesson)",
    )
    p.set_defaults(func=_cmd_export)


def _cmd_site(args: argparse.Namespace) -> int:
    from rlcourse.site import build_site

    try:
        report = build_site(args.out, timeout=args.timeout, jobs=args.jobs)
    except ModuleNotFoundError as exc:
        print(f"rlcourse site: {exc}", file=sys.stderr)
        return 2
    for line in report.warnings:
        print(line, file=sys.stderr)
    print(
        f"built {len(report.pages)} lesson pages in {report.seconds:.0f} s "
        f"({report.size_bytes / 1e6:.1f} MB, {len(report.warnings)} warnings): "
        f"open {report.html / 'index.html'}"
    )
    return 0


def _add_site_parser(sub) -> None:
    p = sub.add_parser(
        "site",
        help="build the course website (Jupyter Book) from the student lessons",
        description="Execute the student lessons (never the solutions) and build a static "
        "website with Jupyter Book 1: the syllabus as table of contents, rendered figures, and "
        "on every lesson launch buttons (Binder, JupyterHub via nbgitpuller, Colab) and a "
        "download button, configured in course/publish.toml. Needs the site extra: "
        'pip install "rlcourse[site]".',
    )
    p.add_argument("--out", default="site", help="output folder (default: ./site)")
    p.add_argument("--jobs", type=int, default=1, help="lessons executed at once (default 1)")
    p.add_argument(
        "--timeout", type=float, default=600.0, help="time limit per cell in seconds (default 600)"
    )
    p.set_defaults(func=_cmd_site)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlcourse",
        description="A Jupyter-first course on SUBSAMPLE-Q and altruistic gradient adjustment.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "lab",
        help="open the course in JupyterLab",
        description="Copy the lessons into your work folder (~/rlcourse-lessons unless --dir "
        "or RLCOURSE_LESSONS_DIR says otherwise; a notebook already there is never "
        "overwritten) and open JupyterLab on it at 00_welcome.ipynb, with Jupyter's token "
        "authentication on. Ctrl+C stops the server. With --update, lessons the course has "
        "changed since you got them are placed beside yours as 'NN_name (updated).ipynb'.",
    )
    p.add_argument(
        "--dir",
        default=None,
        help="your work folder (default: $RLCOURSE_LESSONS_DIR, else ~/rlcourse-lessons)",
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="also place changed lessons beside yours as 'NN_name (updated).ipynb'",
    )
    p.add_argument("--no-browser", action="store_true", help="start the server only")
    p.add_argument("--port", type=int, default=None, help="port for the server")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be copied and the Jupyter command; copy and start nothing",
    )
    p.add_argument("jupyter_args", nargs="*", help="further arguments for `jupyter lab` (after --)")
    p.set_defaults(func=_cmd_lab)

    p = sub.add_parser(
        "build",
        help="generate lessons/ from solutions/",
        description="Write lessons/NN_name.ipynb from solutions/NN_name.ipynb for every "
        "lesson of the syllabus: solution code becomes runnable stubs, solution-only cells are "
        "dropped, outputs are cleared. With --check, write nothing and fail if lessons/ is "
        "stale.",
    )
    p.add_argument("--check", action="store_true", help="fail (exit 1) if lessons/ is stale")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser(
        "progress",
        help="print your progress per lesson",
        description="Print a table per lesson (score / points, exercises attempted and "
        "correct, hints asked) from your local progress file.",
    )
    p.add_argument(
        "--file",
        default=None,
        help="progress file (default: RLCOURSE_PROGRESS or ~/.rlcourse/progress.jsonl)",
    )
    p.set_defaults(func=_cmd_progress)

    p = sub.add_parser(
        "reproduce",
        help="re-run a paper's experiments and write figures and a Markdown report",
        description="Re-run the experiments of one paper, write PNG figures and a Markdown "
        "report of the numbers into --out.",
    )
    p.add_argument("paper", choices=["subsample", "aga"], help="which paper to reproduce")
    p.add_argument("--out", default=None, help="output folder (default: reproduce-PAPER)")
    p.add_argument("--quick", action="store_true", help="smaller settings that run in seconds")
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser(
        "grade",
        help="grade submitted lesson notebooks (instructors)",
        description="Run each submitted notebook in a fresh kernel, check every exercise of "
        "its lesson on the objects the student defined, and write gradebook.csv, "
        "gradebook.json and one Markdown feedback file per student into --out. PATH is a "
        "notebook or a folder with one notebook or one sub-folder per student. Submissions "
        "are never modified. See the instructor guide for what each --isolate mode protects "
        "against.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders to grade")
    p.add_argument("--out", default="grades", help="output folder (default: ./grades)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="time limit per cell in seconds (default 60)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="time limit for a whole notebook in seconds, whatever its number of cells "
        "(default: 10 x timeout, at least 300)",
    )
    p.add_argument(
        "--memory", type=int, default=4096, help="memory limit of a kernel in MB (default 4096)"
    )
    p.add_argument(
        "--nproc",
        type=int,
        default=256,
        help="process limit of a kernel (default 256; enforced with --isolate user)",
    )
    p.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once (default: core count)"
    )
    p.add_argument("--lesson", default=None, help="grade every notebook as this lesson (NN)")
    p.add_argument(
        "--isolate",
        choices=("process", "user"),
        default="process",
        help="process: own folder, scrubbed environment, limits, every process killed at the "
        "end; user (root, Linux): also its own user id, hidden folders, read-only "
        "installation (default: process)",
    )
    p.add_argument(
        "--uid-base", type=int, default=61000, help="first user id of --isolate user (61000)"
    )
    p.add_argument(
        "--restart", action="store_true", help="grade everything again (default: resume)"
    )
    p.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    p.set_defaults(func=_cmd_grade)

    _add_export_parser(sub)
    _add_site_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``rlcourse`` command line: run the command ``argv`` names, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", "unset") is None and args.command == "reproduce":
        args.out = f"reproduce-{args.paper}"
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, MissingExtra) as exc:
        print(f"rlcourse {args.command}: error: {exc}", file=sys.stderr)
        return 2


def console() -> int:
    """Entry point of the ``rlcourse`` console script (and ``python -m rlcourse.cli``): a
    process of its own, so it can skip jsonschema's IRI checker, about 1 s of start-up for
    every command that reads notebooks (see :func:`rlcourse._imports.without_iri_checker`)."""
    from rlcourse._imports import without_iri_checker

    without_iri_checker()
    return main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
