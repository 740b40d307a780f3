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
    assert "price weight w = 0.05" in report
    # the variant is benchmarked against its exact optimum, exact π*_k and π̂_k,m apart
    variant = report.split("the course's variant")[1].split("## Queueing")[0]
    assert "(k = n = 2, mean_field)" in variant and "not a SUBSAMPLE-Q run" in variant
    assert "Gaps of the exact k-agent policy π*_k" in variant and "π̂_{k,m}" in variant
    # a failed certificate is read as one candidate failing, not as "no crowd-blind optimum"
    assert "tests one crowd-blind candidate" in variant
    assert "no s_g-only policy is optimal (certificate" not in report
    # the honest headline: margin 1.0, threshold ≈ 0.158, origin unknown, digitised numbers
    assert "action margin" in spec and "1.000" in spec and "w ≥ 0.158" in spec
    assert "where it came from is unknown" in spec and "digitised" in spec
    assert "cannot appear" not in report and "ICLR" not in report
    # time slopes only where the work dominates
    time_lines = [ln for ln in report.splitlines() if ln.startswith("Fitted slope of log-time")]
    assert time_lines and all("not fitted" in ln or "runs of at least" in ln for ln in time_lines)
