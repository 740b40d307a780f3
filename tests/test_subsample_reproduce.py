"""`rlcourse reproduce subsample --quick` writes the figures and a report with the numbers."""

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
    ]:
        assert (out / f"{name}.png").stat().st_size > 1000
        assert f"({name}.png)" in report
    assert "Fitted slope of log-gap vs log-k" in report
    assert "| 8 |" in report  # queueing row for k = 8
    assert "exact mean-field" in report
