"""`rlcourse reproduce subsample --quick` writes the figures and a report with the numbers."""

import re

from rlcourse.cli import main


def test_reproduce_quick_through_the_cli(tmp_path):
    out = tmp_path / "rep"
    assert main(["reproduce", "subsample", "--out", str(out), "--quick", "--no-progress"]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    for name in [
        "gap_demand_response",
        "gap_queueing",
        "noise_queueing",
        "tv_sampling",
        "return_queueing",
        "noise_demand_response",
        "return_demand_response",
        "gap_demand_response_variant",
        "return_demand_response_variant",
    ]:
        assert (out / f"{name}.png").stat().st_size > 1000
        assert f"({name}.png)" in report
    assert "Fitted slope of log-gap vs log-k" in report
    assert "| 8 |" in report  # queueing row for k = 8
    assert "exact mean-field" in report
    # the spec's prices: certified s_g-only optimum, zero gap; the variant: a k = n benchmark
    assert "certified optimal π*(s_g)" in report and "largest advantage 0" in report
    spec = report.split("the specification's prices")[1].split("the course's variant")[0]
    rows = [
        line.split("|") for line in spec.splitlines() if line.startswith("| ") and "k |" not in line
    ]
    assert len(rows) == 3 and all(float(r[3]) == 0.0 for r in rows)  # π_k = π* on every step
    assert "log-k: **undefined** (fewer than two positive gaps)" in spec  # no fit through zeros
    assert not re.search(r"\bnan\b", report, re.I)
    assert "price weight w = 0.05" in report and "(k = n = 4, subsample_q)" in report
