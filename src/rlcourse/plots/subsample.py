"""Figures for the subsample half of the course."""

from __future__ import annotations

__all__: list[str] = []
