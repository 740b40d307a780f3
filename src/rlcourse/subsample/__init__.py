"""SUBSAMPLE-Q (Anand & Qu, arXiv 2403.00222)."""
