"""Benchmark of ``rlcourse grade`` against the grader it replaced, in the same run.

Grades one class of lesson-00 submissions (default 60: a third fully correct, a third half
correct, a third untouched stubs; built from lessons/ and solutions/ as the tests do) with
``--jobs 2``, twice: with this checkout's grader and with the previous one (the package as it
was at ``--old-ref``, extracted from git into a temporary folder and run from there). Each run
is a fresh ``python -m rlcourse.cli grade`` process. Prints the wall time of each, the time per
submission, the mean per-submission time the gradebook records and the ratio new / old, and
checks that both gave the same totals.

    python benchmarks/bench_grading.py            # 60 submissions, --jobs 2
    python benchmarks/bench_grading.py --n 12     # a quick look

The machine's load matters: run it on an otherwise idle machine to compare absolute times;
the ratio of two runs made one after the other is the figure to read.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_REF = "a2720e465d5d3121c8f0250899480de830c6267e"  # the grader before run/judge apart
_spec = importlib.util.spec_from_file_location(
    "grading_submissions", ROOT / "tests" / "fixtures" / "grading" / "submissions.py"
)
subs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs)


def make_class(folder: Path, n: int) -> None:
    kinds = [subs.correct, subs.half, subs.lesson]
    for i in range(n):
        subs.write(kinds[i % 3](), folder / f"student{i:02d}" / "00_welcome.ipynb")


def old_tree(ref: str, into: Path) -> Path:
    """The project as it was at ``ref`` (src, course, lessons, solutions), from git."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src", "course", "lessons", "solutions"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run(label: str, tree: Path, folder: Path, out: Path, jobs: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), RLCOURSE_ROOT=str(tree))
    argv = [sys.executable, "-m", "rlcourse.cli", "grade", str(folder), "--out", str(out)]
    argv += ["--jobs", str(jobs), "--timeout", str(timeout), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    rows = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))["submissions"]
    mean_row = sum(r["time_s"] for r in rows) / len(rows)
    print(f"{label}: graded {len(rows)} submissions with --jobs {jobs} (exit {proc.returncode})")
    print(f"  wall time {wall:.1f} s = {wall / len(rows):.2f} s per submission; ")
    print(f"  mean time of one submission as the gradebook records it: {mean_row:.2f} s")
    return {"wall": wall, "rows": {r["student"]: r["total"] for r in rows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="number of submissions (default 60)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel submissions (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-cell limit, s")
    parser.add_argument("--old-ref", default=OLD_REF, help="git commit of the old grader")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = base / "class"
        make_class(folder, args.n)
        (base / "old").mkdir()
        old = old_tree(args.old_ref, (base / "old").resolve())
        new = run("new (run and judge apart)", ROOT, folder, base / "out-new", args.jobs,
                  args.timeout)  # fmt: skip
        before = run(f"old ({args.old_ref[:7]})", old, folder, base / "out-old", args.jobs,
                     args.timeout)  # fmt: skip
    ratio = new["wall"] / before["wall"]
    same = new["rows"] == before["rows"]
    totals = sorted(set(new["rows"].values()))
    print(f"new / old wall time: {ratio:.2f} (goal: at most 1.5)")
    extra = (new["wall"] - before["wall"]) / args.n
    print(f"  overhead per submission: {extra:+.2f} s of wall time with --jobs {args.jobs}")
    print(f"  same totals for every student: {same}; totals seen: {totals} (8, 3, 0 expected)")
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
