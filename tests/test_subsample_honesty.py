"""Track 1 (lessons 01-05) teaches only what is true: false statements stay out of the solution
notebooks, and the numbers the text quotes are what the library computes."""

from __future__ import annotations

import re
from math import comb
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rlcourse.exercises import Status, lesson01, lesson04
from rlcourse.subsample import (
    certify_global_policy,
    envs,
    solve_full,
    solve_mean_field,
    subsample_q,
)
from rlcourse.subsample import decomposition as dec

ROOT = Path(__file__).resolve().parents[1]
TRACK1 = sorted((ROOT / "solutions").glob("0[1-5]_*.ipynb"))


def _text(path: Path, kinds=("markdown", "code")) -> str:
    nb = nbformat.read(path, 4)
    src = "\n".join(c.source for c in nb.cells if c.cell_type in kinds)
    return re.sub(r"\s+", " ", src)


def _lesson(prefix: str) -> Path:
    return next(p for p in TRACK1 if p.name.startswith(prefix))


def _outputs(path: Path, cell_id: str) -> str:
    nb = nbformat.read(path, 4)
    cell = next(c for c in nb.cells if c.id == cell_id)
    return "".join(o.get("text", "") for o in cell.outputs)


FALSE_PHRASES = [
    "ICLR 2025",  # an arXiv preprint
    "ICLR version",
    "ignores the crowd altogether",  # lesson 01's toy at γ = 0.9
    "**Proved:** the value gap",  # the theorem is stated in the paper, not proved here
    "Proved (lesson 04)",
    "Proved in the paper (with high probability)",
    "with high probability (over the learning samples, with $\\delta$ inside the log factor)",
    "$\\mathrm{TV}(F_\\Delta, F_{[n]}) \\;\\le\\; \\sqrt",  # the bound is on ½ max_x, not TV
    "*Lipschitz continuity:* $Q^*_k(s_g, F, a_g)$ changes by at most",
    "plausibly the script's defects",  # averaging over sampled agents is unbiased
    "summing rewards over the sampled agents only changes the objective",
    "rewards summed over the sampled agents only",
    "within noise of 0 from $k = 3$",  # an artefact of a SUBSAMPLE-Q benchmark
    "a crowd-blind policy is optimal:",  # a failed certificate tests one candidate
    "multiplies by roughly $(k+25)/k$",
    "still $10^{19}$ entries",
    "follows the paper's analysis of a fixed point",  # samples drawn once: the course's reading
    "app.state['bound']",  # no histogram bound printed beside value gaps
]


@pytest.mark.parametrize("phrase", FALSE_PHRASES)
def test_false_statements_do_not_come_back(phrase):
    for path in TRACK1:
        assert re.sub(r"\s+", " ", phrase) not in _text(path), f"{path.name}: {phrase!r}"


def test_lesson04_states_the_theorem_with_its_status_and_parts():
    text = _text(_lesson("04"))
    for needed in [
        "stated in the paper",
        "the course did not check its proof",
        "$k$-versus-$n$ mismatch",
        "Three different things hide in the qualifiers",
        "Serfling-type concentration without replacement",
        "Hoeffding's inequality",
        "Performance-difference lemma",
        "What the course could and could not check about the paper",
        "the **error** is exactly zero, but the **bound** is not",
        "half the largest per-state deviation",
        "freshness is what the *proof* needs",
    ]:
        assert needed in text, needed


def test_lesson04_mismatch_numbers_are_the_computed_ones():
    """TV = 0 and still Q*_k ≠ Q*_n: the text's 0.100, 0.047, 0.023 and 17 %."""
    q = envs.queueing()
    got = [round(dec.same_histogram_mismatch(q, 24, k).max_diff, 3) for k in (1, 2, 4)]
    assert got == [0.1, 0.047, 0.023]
    assert "0.100, 0.047, 0.023" in _text(_lesson("04"), kinds=("markdown",))
    toy = dec.same_histogram_mismatch(envs.toy(L=3, gamma=0.8), 4, 1)
    assert f"{toy.action_differs:.0%}" == "17%"
    assert "17%" in _outputs(_lesson("04"), "c024a")


def test_freshness_measurement_fixed_subsets_do_as_well_with_replacement_worse():
    q = envs.queueing()
    v_star, _ = dec.optimal_on_counts(q, 6)
    mu = dec.uniform_joint_weights(q, 6)
    for k in range(1, 6):
        pol = solve_mean_field(q, k).policy
        gap = {
            mode: float(np.sum(mu * (v_star - dec.execution_value(q, 6, k, pol, subsets=mode))))
            for mode in ("fresh", "fixed", "replace")
        }
        assert gap["fixed"] <= gap["fresh"] + 1e-12
        if k >= 2:
            assert gap["replace"] > gap["fresh"]
    assert "0.100 against 0.153" in _text(_lesson("04"), kinds=("markdown",))


def test_lesson01_toy_at_gamma_09_depends_on_the_crowd():
    full = solve_full(envs.toy(L=3, gamma=0.9), 3)
    margin = full.q[0, :, 0] - full.q[0, :, 1]
    assert np.sum(margin > 0) >= 1 and np.sum(margin < 0) >= 1  # the low-supply action varies
    assert not certify_global_policy(envs.toy(L=3, gamma=0.9)).optimal


def test_lesson05_headline_margin_threshold_and_exact_benchmark():
    dr = envs.demand_response()
    cert = certify_global_policy(dr)
    others = cert.advantage.copy()
    others[np.arange(5), :, cert.pi_g] = -np.inf
    assert cert.optimal and -others.max() == pytest.approx(1.0)
    assert certify_global_policy(envs.demand_response(price_weight=0.1585)).optimal
    assert not certify_global_policy(envs.demand_response(price_weight=0.1570)).optimal
    # the variant: no crowd-blind optimum at n = 2 (read off the exact optimum, not the certificate)
    drv = envs.demand_response(price_weight=envs.VARIANT_PRICE_WEIGHT)
    q2 = solve_mean_field(drv, 2).q
    best = q2 >= q2.max(axis=2, keepdims=True) - 1e-9
    assert not best.all(axis=1).any(axis=1).all()
    # SUBSAMPLE-Q at k = n = 2 (m = 10) falls short of the exact optimum, for every seed
    v_star, _ = dec.optimal_on_counts(drv, 2)
    mu = dec.uniform_joint_weights(drv, 2)
    for s in range(3):
        pol = subsample_q(drv, 2, m=10, T=20, rng=s).policy
        assert np.sum(mu * (v_star - dec.execution_value(drv, 2, 2, pol))) > 0.01
    text = _text(_lesson("05"), kinds=("markdown",))
    assert "where it came from is **unknown**" in text and "digitised from the authors'" in text
    assert "tests one candidate" in text or "for **one candidate**" in text


def test_small_numbers_growth_ratio_and_table_size():
    for k in range(1, 10):
        assert comb(k + 25, 24) * (k + 1) == comb(k + 24, 24) * (k + 25)  # ratio (k+25)/(k+1)
    assert f"{comb(74, 24):.3g}" == "1.75e+19" and f"{15 * comb(74, 24):.2g}" == "2.6e+20"
    assert "(k+25)/(k+1)" in _text(_lesson("05"), kinds=("markdown",))


# ----------------------------------------------------------------------------- checks


def _value_iteration_until(mdp, n, stop):
    P, r = lesson01.joint_mdp(mdp.P_g, mdp.P_l, mdp.r_g, mdp.r_l, n)
    Q = np.zeros_like(r)
    while True:
        Q_new = r + mdp.gamma * (P @ Q.max(axis=1))
        if np.max(np.abs(Q_new - Q)) < stop(mdp.gamma):
            return Q_new.reshape(mdp.n_global, -1, mdp.n_actions)
        Q = Q_new


def test_01_q3_text_and_check_agree_on_the_stopping_rule():
    naive = lambda mdp, n: _value_iteration_until(mdp, n, lambda g: 1e-6)  # noqa: E731
    bound = lambda mdp, n: _value_iteration_until(mdp, n, lambda g: (1 - g) / g * 1e-6)  # noqa: E731
    assert lesson01.q3.check(naive).status is Status.INCORRECT
    assert lesson01.q3.check(bound).status is Status.CORRECT
    text = _text(_lesson("01"), kinds=("markdown",))
    assert "Stopping once the change is below $10^{-6}$ is **not** enough" in text


def test_01_q2_reversed_digit_order_gives_the_same_arrays():
    """The required order is s_1 first; reversed digits give the same P and r up to rounding
    (exchangeable agents), which is why the check accepts both — and the lesson says so."""
    m = envs.random_mdp(2, 2, 3, rng=3)
    P, r = lesson01.joint_mdp(m.P_g, m.P_l, m.r_g, m.r_l, 3)
    L, n, S = 3, 3, 2
    t = np.arange(L**n)
    rev = np.indices((L,) * n).reshape(n, -1).T[:, ::-1] @ (L ** np.arange(n - 1, -1, -1))
    j = (np.arange(S)[:, None] * L**n + rev[None, :]).ravel()
    np.testing.assert_allclose(P[j][:, :, j], P, rtol=1e-13, atol=1e-16)  # product order only
    np.testing.assert_allclose(r[j], r, rtol=1e-13)
    assert not np.array_equal(rev, t)
    assert "so the check cannot tell the two apart" in _text(_lesson("01"), kinds=("markdown",))


def test_04_q3_catches_bincount_without_minlength():
    def no_minlength(s_local, k, L, trials, rng, replace=False):
        n = len(s_local)
        idx = (
            rng.integers(0, n, (trials, k)) if replace else lesson04.draw_subset(n, k, trials, rng)
        )
        F_delta = np.stack([np.bincount(row, minlength=L) for row in s_local[idx]]) / k
        return 0.5 * np.abs(F_delta - np.bincount(s_local) / n).sum(axis=1)

    res = lesson04.q3.check(no_minlength)
    assert res.status is Status.INCORRECT


@pytest.mark.parametrize(
    "wrong", ["_q4_k_average", "_q4_no_discount", "_q4_discount_from_one", "_q4_reused_subset"]
)
def test_04_q4_catches_each_broken_rollout(wrong):
    res = lesson04.q4.check(getattr(lesson04, wrong))
    assert res.status is Status.INCORRECT and "all" in res.message.lower()
    assert lesson04.q4.check(lesson04.rollout_return).status is Status.CORRECT


def test_04_q4_reference_matches_evaluate_on_one_episode():
    """The answer key is Algorithm 2 as the library runs it: same mean return as `evaluate`."""
    q = envs.queueing()
    res = solve_mean_field(q, 2)
    s_local = np.random.default_rng(0).integers(0, q.L, 8)
    gen = np.random.default_rng(1)
    rets = [
        lesson04.rollout_return(q, res.policy, res.space, 1, s_local, 25, gen) for _ in range(400)
    ]
    from rlcourse.subsample import SubsampledPolicy, evaluate

    ev = evaluate(
        q, SubsampledPolicy(res, 8, 2), n=8, s0=(1, s_local), horizon=25, episodes=400, rng=2
    )
    assert abs(np.mean(rets) - ev.mean) < 4 * np.hypot(np.std(rets) / 20, ev.stderr)
