"""Dedup passes on Ray (filled in as the dedup API lands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RAY_GLOBALS: dict[str, Callable[..., Any]] = {}
