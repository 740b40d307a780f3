"""Benchmarks of rlcourse.games (prints figures; run: python benchmarks/bench_games.py).

0. AgA training on the two-player public goods game (10 000 initialisations x 100 steps):
   ``train`` against a minimal NumPy loop written below for this game alone (closed-form
   derivatives, no validation, no divergence guard), keeping every step or only the final
   point; same numbers to 1e-12, ratio measured in the same run.
1. 10 000 initialisations x 100 steps of AgA on the two-player public goods game: wall time
   of one batched ``train`` call, and the ratio to looping over initialisations in Python
   (same functions on one ``(d,)`` vector at a time), measured in the same run. The loop is
   timed on a subset of initialisations and scaled linearly to 10 000.
2. Per-step cost of every method relative to Simul-Ind on every game (batch of 1000).
3. Where the Hessian is the cost: the n-player public goods game with n = 100. The time of an
   AgA direction relative to Simul-Ind, the share of it spent building the players' Hessians
   (n matrices of d x d, n d^2 numbers per point), and the same ratio when ``H_c xi_c`` is a
   Hessian-vector product from two extra gradients (central difference), as automatic
   differentiation would give it. The HVP variant runs on a batch large enough that the
   gradient itself (all n players' gradients, n d numbers per point) dominates Python overhead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import best_of

from rlcourse import games as G

PARAMS = {
    "simul_ind": {},
    "simul_co": {},
    "consensus": {"gamma": 1.0},
    "sga": {"lam": 1.0},
    "lola": {"alpha": 1.0},
    "aga": {"lam": 1.0},
    "aga_exact_sign": {"lam": 1.0},
}


def minimal_aga_public_goods(
    w0: np.ndarray, lr: float, steps: int, lam: float, p: float, keep_trajectory: bool
) -> tuple[np.ndarray, np.ndarray]:
    """AgA on the public goods game ``f_i(a) = a_i - 1 - (p/n) sum_j a_j``, ``a = sigma(w)``,
    written out: ``f_ii = 1 - p/n``, ``f_c,k = 1 - p``, ``f_c'' = 0``, so ``xi = f_ii sigma'``,
    ``xi_c = f_c sigma'``, ``grad H_c = f_c sigma'' xi_c``. Returns ``(w, rewards)`` for every
    step (or the start and the end)."""
    n = w0.shape[1]
    own, col = 1.0 - p / n, 1.0 - p
    w = w0.copy()
    W = np.empty((steps + 1 if keep_trajectory else 2, *w.shape))
    W[0] = w
    for t in range(steps):
        s = 1.0 / (1.0 + np.exp(-w))
        ds = s * (1.0 - s)
        xi_c = col * ds
        g = col * ds * (1.0 - 2.0 * s) * xi_c
        xi = own * ds
        prod = (xi_c * g).sum(-1) * ((xi * g).sum(-1) + (g * g).sum(-1))
        w = w - lr * (xi_c + np.where(prod >= 0, lam, -lam)[:, None] * (xi + g))
        if keep_trajectory:
            W[t + 1] = w
    W[-1] = w
    a = 1.0 / (1.0 + np.exp(-W))
    return W, 1.0 - a + (p / n) * a.sum(-1, keepdims=True)


def bench_minimal(n_init: int, steps: int, reps: int) -> None:
    game = G.public_goods()
    w0 = np.random.default_rng(0).uniform(-1, 1, (n_init, 2))
    lr, lam = 1.0, 1.0
    print(f"AgA on public goods, {n_init} initialisations x {steps} steps (best of {reps})")
    print(f"{'kept':>10} {'train s':>8} {'minimal loop s':>14} {'ratio':>6} {'max |diff|':>10}")
    for keep in ("trajectory", "final"):
        tr = G.train(game, "aga", w0, lr=lr, steps=steps, lam=lam, keep=keep)
        W, r = minimal_aga_public_goods(w0, lr, steps, lam, game.p, keep == "trajectory")
        diff = max(np.abs(tr.w - W).max(), np.abs(tr.rewards - r).max())
        assert diff <= 1e-12, diff
        t_train = best_of(
            lambda keep=keep: G.train(game, "aga", w0, lr=lr, steps=steps, lam=lam, keep=keep),
            reps,
        )
        t_min = best_of(
            lambda keep=keep: minimal_aga_public_goods(
                w0, lr, steps, lam, game.p, keep == "trajectory"
            ),
            reps,
        )
        print(f"{keep:>10} {t_train:>8.4f} {t_min:>14.4f} {t_train / t_min:>6.2f} {diff:>10.1e}")
    # the same runs through the generic per-step methods.aga (validation, per-player Hessians)
    w, t0 = w0.copy(), time.perf_counter()
    for _ in range(steps):
        w = w - lr * G.aga(game, w, lam=lam)
    t_generic = time.perf_counter() - t0
    tr = G.train(game, "aga", w0, lr=lr, steps=steps, lam=lam, keep="final")
    print(
        f"  generic loop over methods.aga: {t_generic:.4f} s, same end point to "
        f"{np.abs(tr.w[-1] - w).max():.1e}\n"
    )


def bench_batched_vs_loop(n_init: int, steps: int, n_loop: int) -> None:
    game = G.public_goods()
    w0 = np.random.default_rng(0).uniform(-1, 1, (n_init, 2))

    def batched() -> None:
        G.train(game, "aga", w0, lr=1.0, steps=steps, lam=1.0)

    def loop() -> None:
        for w in w0[:n_loop]:
            for _ in range(steps):
                w = w - 1.0 * G.aga(game, w, lam=1.0)

    t_batch = best_of(batched, 3)
    t_loop = best_of(loop, 1) * n_init / n_loop
    # same numbers either way
    tr = G.train(game, "aga", w0[:3], lr=1.0, steps=steps, lam=1.0)
    w = w0[0]
    for _ in range(steps):
        w = w - G.aga(game, w, lam=1.0)
    assert np.allclose(w, tr.w[-1, 0])
    print(f"AgA on public goods, {n_init} initialisations x {steps} steps")
    print(f"  batched train:             {t_batch:8.3f} s")
    print(f"  Python loop (scaled from {n_loop} inits): {t_loop:8.1f} s")
    print(f"  speed-up batched / loop:   {t_loop / t_batch:8.0f}x")


def bench_per_step(batch: int, reps: int) -> None:
    zoo = {
        "public_goods": G.public_goods(),
        "public_goods_n5": G.public_goods(n=5, p=2.5),
        "prisoners_dilemma": G.prisoners_dilemma(),
        "stag_hunt": G.stag_hunt(),
        "matching_pennies": G.matching_pennies(),
        "tandem": G.tandem(),
        "cournot": G.cournot(),
    }
    names = list(PARAMS)
    print(f"\nper-step cost relative to simul_ind (batch {batch}, best of {reps} x 20 calls)")
    print(f"{'game':<18} {'simul_ind us':>12} " + " ".join(f"{m:>14}" for m in names[1:]))
    for gname, game in zoo.items():
        w = np.random.default_rng(1).uniform(-1, 1, (batch, game.dim))
        cost = {}
        for m in names:
            f, p = G.METHODS[m], PARAMS[m]

            def run(f=f, p=p, game=game, w=w) -> None:
                for _ in range(20):
                    f(game, w, **p)

            cost[m] = best_of(run, reps) / 20
        base = cost["simul_ind"]
        print(
            f"{gname:<18} {base * 1e6:>12.1f} "
            + " ".join(f"{cost[m] / base:>14.2f}" for m in names[1:])
        )


def _aga_with_hvp(game: G.Game, w: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """AgA (|lambda| = 1) with ``H_c xi_c`` as a Hessian-vector product: a central difference
    of the collective gradient along ``xi_c`` (two more gradients, no Hessian built)."""
    grads = game.grads(w)
    x, x_c = G.xi_from_grads(grads, game.owner), grads.sum(axis=-2)
    h = eps / np.abs(x_c).max(axis=-1, keepdims=True)  # step relative to |xi_c|
    hvp = (game.grads(w + h * x_c).sum(-2) - game.grads(w - h * x_c).sum(-2)) / (2 * h)
    s = G.aga_sign(x, x_c, hvp)
    return x_c + s[..., None] * (x + hvp)


def bench_hessian_cost(n: int, batch: int, hvp_batch: int, reps: int) -> None:
    game = G.public_goods(n=n, p=n / 2)
    w = np.random.default_rng(2).uniform(-1, 1, (batch, n))
    w_big = np.random.default_rng(3).uniform(-1, 1, (hvp_batch, n))
    exact = G.aga(game, w, lam=1.0)
    err = np.abs(_aga_with_hvp(game, w) - exact).max() / np.abs(exact).max()
    assert err < 1e-6, err  # the same direction up to the finite-difference error

    t = {
        "xi": best_of(lambda: G.simul_ind(game, w), reps),
        "aga": best_of(lambda: G.aga(game, w, lam=1.0), reps),
        "hessians": best_of(lambda: game.hessians(w), reps),
        "xi_big": best_of(lambda: G.simul_ind(game, w_big), reps),
        "hvp_big": best_of(lambda: _aga_with_hvp(game, w_big), reps),
    }
    mb = batch * n * n * n * 8 / 1e6
    print(f"\npublic goods n={n} (d={n}), best of {reps}")
    print(f"  batch {batch}: AgA builds all n Hessians ({mb:.0f} MB)")
    print(f"    Simul-Ind xi:                {t['xi'] * 1e3:9.2f} ms")
    print(f"    AgA:                         {t['aga'] * 1e3:9.2f} ms  "
          f"ratio {t['aga'] / t['xi']:7.1f}x")  # fmt: skip
    print(f"    of which game.hessians:      {t['hessians'] * 1e3:9.2f} ms  "
          f"({t['hessians'] / t['aga']:.0%} of AgA)")  # fmt: skip
    print(f"  batch {hvp_batch}: AgA with H_c xi_c as a Hessian-vector product")
    print(f"    Simul-Ind xi:                {t['xi_big'] * 1e3:9.2f} ms")
    print(f"    AgA (HVP):                   {t['hvp_big'] * 1e3:9.2f} ms  "
          f"ratio {t['hvp_big'] / t['xi_big']:7.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only-minimal", action="store_true", help="only part 0")
    args = parser.parse_args()
    if args.only_minimal:
        bench_minimal(n_init=10_000, steps=100, reps=7)
        return
    if args.quick:
        bench_minimal(n_init=10_000, steps=100, reps=3)
        bench_batched_vs_loop(n_init=1000, steps=100, n_loop=20)
        bench_per_step(batch=200, reps=3)
        bench_hessian_cost(n=100, batch=4, hvp_batch=500, reps=3)
    else:
        bench_minimal(n_init=10_000, steps=100, reps=7)
        bench_batched_vs_loop(n_init=10_000, steps=100, n_loop=200)
        bench_per_step(batch=1000, reps=5)
        bench_hessian_cost(n=100, batch=16, hvp_batch=2000, reps=5)


if __name__ == "__main__":
    main()
