"""The sampled Bellman update written entry by entry: the definition the tests compare with.

Q_{t+1}(s_g, c, a_g) = r_k(s_g, c, a_g) + (γ/m) Σ_j max_a' Q_t(s_g^j, c^j, a')
"""

from __future__ import annotations

import numpy as np


def loop_update(Q, r_k, next_g, next_c, gamma):
    S_g, N, A = Q.shape
    m = next_c.shape[-1]
    out = np.empty_like(Q)
    for s in range(S_g):
        for c in range(N):
            for a in range(A):
                tot = sum(Q[next_g[s, c, a, j], next_c[s, c, j]].max() for j in range(m))
                out[s, c, a] = r_k[s, c, a] + gamma * tot / m
    return out
