"""Helpers for the pipeline tests: write inputs and specs into a temp folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STEPS = "tests.pipeline._steps"


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_spec(folder: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def text_spec(*, steps: str = "", fmt: str = "jsonl", extra: str = "") -> str:
    """A spec over ``rows.jsonl`` with output/rejects/report under ``out/``."""
    return (
        "inputs:\n  - {path: rows.jsonl, source: test}\n"
        f"steps:\n{steps or '  []'}\n"
        f"output: {{path: out/data, format: {fmt}, shard_rows: 7}}\n"
        "rejects: {path: out/rejects}\n"
        f"options: {{shard_rows: 5, batch_size: 3}}\n{extra}"
    )


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative name, skipping hidden work folders."""
    files = (p for p in sorted(folder.rglob("*")) if p.is_file())
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in files
        if not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
