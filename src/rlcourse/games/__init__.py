"""Differentiable games and altruistic gradient adjustment (Li et al., arXiv 2402.12416)."""
