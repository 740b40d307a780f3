"""Differentiable games and altruistic gradient adjustment (Li et al., arXiv 2402.12416).

- games (:mod:`.zoo`): ``public_goods``, ``prisoners_dilemma``, ``stag_hunt``,
  ``matching_pennies``, ``tandem``, ``cournot``, ``matrix_game``; each has ``losses``,
  ``grads``, ``hessians``, ``actions`` batched over leading axes of ``w``;
- mechanics (:mod:`.mechanics`): ``simultaneous_gradient`` (xi), ``collective_gradient``
  (xi_c), ``game_jacobian`` (H), ``collective_hessian`` (H_c), ``decompose`` (S, A);
- update directions (:mod:`.methods`): ``simul_ind``, ``simul_co``, ``consensus``, ``sga``,
  ``lola``, ``aga``, ``aga_exact_sign``, each ``(game, w, **params) -> (..., d)``; their sign
  rules ``sga_sign``, ``aga_sign``, ``exact_alignment_sign`` detect and report ties;
- ``train`` (batched runs -> ``Trajectory``) and metrics (``gini``, ``equality``, ...).
- ``iterated_prisoners_dilemma`` (:mod:`.ipd`): memory-1 IPD, ten parameters, exact returns;
- ``train`` (batched runs -> ``Trajectory``; ``project=nonnegative`` for projected steps)
  and metrics (``gini``, ``equality``, ...).
"""

from rlcourse.games.base import Game, QuadraticGame, SigmoidGame, check_w, sigmoid
from rlcourse.games.ipd import IteratedPrisonersDilemma, iterated_prisoners_dilemma
from rlcourse.games.mechanics import (
    collective_gradient,
    collective_hessian,
    decompose,
    game_jacobian,
    hamiltonian_gradient,
    jacobian_from_hessians,
    simultaneous_gradient,
    xi_from_grads,
)
from rlcourse.games.methods import (
    METHODS,
    TIE_RTOL,
    SignComparison,
    aga,
    aga_direction,
    aga_exact_sign,
    aga_sign,
    aga_signs,
    alignment_derivative,
    consensus,
    consensus_direction,
    exact_alignment_sign,
    get_method,
    lola,
    lola_direction,
    sga,
    sga_direction,
    sga_sign,
    simul_co,
    simul_ind,
)
from rlcourse.games.metrics import (
    MeanCI,
    equality,
    gini,
    mean_ci,
    social_welfare,
    steps_to_converge,
    steps_to_fraction,
)
from rlcourse.games.train import Trajectory, train
from rlcourse.games.zoo import (
    MatrixGame,
    PublicGoods,
    cournot,
    matching_pennies,
    matrix_game,
    nonnegative,
    prisoners_dilemma,
    public_goods,
    stag_hunt,
    tandem,
)

__all__ = [
    "METHODS",
    "Game",
    "IteratedPrisonersDilemma",
    "MatrixGame",
    "MeanCI",
    "PublicGoods",
    "QuadraticGame",
    "SigmoidGame",
    "SignComparison",
    "TIE_RTOL",
    "Trajectory",
    "aga",
    "aga_direction",
    "aga_exact_sign",
    "aga_sign",
    "aga_signs",
    "alignment_derivative",
    "check_w",
    "collective_gradient",
    "collective_hessian",
    "consensus",
    "consensus_direction",
    "cournot",
    "decompose",
    "equality",
    "exact_alignment_sign",
    "game_jacobian",
    "get_method",
    "gini",
    "hamiltonian_gradient",
    "iterated_prisoners_dilemma",
    "jacobian_from_hessians",
    "lola",
    "lola_direction",
    "matching_pennies",
    "matrix_game",
    "mean_ci",
    "nonnegative",
    "prisoners_dilemma",
    "public_goods",
    "sga",
    "sga_direction",
    "sga_sign",
    "sigmoid",
    "simul_co",
    "simul_ind",
    "simultaneous_gradient",
    "social_welfare",
    "stag_hunt",
    "steps_to_converge",
    "steps_to_fraction",
    "tandem",
    "train",
    "xi_from_grads",
]
