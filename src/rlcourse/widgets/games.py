"""Widgets of the games lessons."""

from __future__ import annotations

__all__: list[str] = []
