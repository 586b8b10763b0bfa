"""The README's main job: `sfttrain demo` end to end on the shipped demo data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end_and_accounts_for_every_row(tmp_path: Path) -> None:
    """Every stage reports, every dropped row is in rejects.jsonl, the loss falls, the export exists."""
    from sfttrain._demo import demo

    lines: list[str] = []
    out = demo(out_dir=tmp_path, steps=6, echo=lines.append)
    stages = [line.split()[0] for line in lines]
    for name in ("parse", "clean", "safety", "dedup", "near-dedup", "encode", "rejects", "pack"):
        assert name in stages, (name, lines)
    rows_in = int(re.findall(r"(\d+) ->", lines[0])[0])
    encoded = next(line for line in lines if line.startswith("encode"))
    kept = int(re.findall(r"-> +(\d+)", encoded)[0])
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert rows_in == kept + len(rejects)  # nothing vanished
    assert all(r["drop_reason"] for r in rejects)
    assert out["losses"][-1] < out["losses"][0]
    assert out["heldout_after"] < out["heldout_before"]
    export = Path(out["export"])
    assert (export / "model.safetensors").exists()
    assert "[INST]" in (export / "chat_template.jinja").read_text()  # the llama2 training format
    assert len(out["replies"]) == 3
    # the evaluation matrix: base and fine-tuned model, every HELM dimension present
    matrix = json.loads((tmp_path / "matrix" / "matrix.json").read_text())
    assert {r["model"] for r in matrix} == {str(tmp_path / "base"), str(export)}
    assert {r["dimension"] for r in matrix} >= {"accuracy", "robustness", "safety", "efficiency"}
    assert any(line.startswith("matrix") for line in lines)
