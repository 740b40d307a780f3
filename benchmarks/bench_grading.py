"""Benchmark of ``rlcourse grade`` (prints figures; run: python benchmarks/bench_grading.py).

Grades a class of 30 lesson-00 submissions (a third fully correct, a third half correct, a
third untouched stubs; built from lessons/ and solutions/ as the tests do) with ``--jobs 2``
and prints the wall time, the time per submission and the mean of the per-submission times
the gradebook records.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

from rlcourse.cli import main

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "grading_submissions", ROOT / "tests" / "fixtures" / "grading" / "submissions.py"
)
subs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs)


def make_class(folder: Path, n: int) -> None:
    kinds = [subs.correct, subs.half, subs.lesson]
    for i in range(n):
        subs.write(kinds[i % 3](), folder / f"student{i:02d}" / "00_welcome.ipynb")


def run(n: int, jobs: int, timeout: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "class", Path(tmp) / "out"
        make_class(folder, n)
        argv = ["grade", str(folder), "--out", str(out), "--jobs", str(jobs)]
        argv += ["--timeout", str(timeout), "--no-progress"]
        start = time.perf_counter()
        code = main(argv)
        wall = time.perf_counter() - start
        rows = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))["submissions"]
    totals = sorted({r["total"] for r in rows})
    mean_row = sum(r["time_s"] for r in rows) / len(rows)
    print(f"graded {len(rows)} submissions of lesson 00 with --jobs {jobs} (exit code {code})")
    print(f"  wall time: {wall:.1f} s  ({wall / len(rows):.2f} s per submission)")
    print(f"  mean time of one submission (its own process, kernel, checks): {mean_row:.1f} s")
    print(f"  totals seen: {totals} (8 = correct, 3 = half, 0 = untouched)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="number of submissions (default 30)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel submissions (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-cell limit, s")
    args = parser.parse_args()
    run(args.n, args.jobs, args.timeout)
