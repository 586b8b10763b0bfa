"""The shipped example pipelines run end to end (outputs redirected to a temp folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from sftdata.cli import load_dataset_any
from sftdata.runner import load_spec, run
from sftdata.runner._io import read_input
from sftdata.tokenize import load_blocks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(name: str, out: Path, extra_steps: str = "") -> Path:
    """The example spec with data paths made absolute and outputs under ``out``."""
    text = (EXAMPLES / "pipelines" / name).read_text()
    text = text.replace("../data/", f"{EXAMPLES / 'data'}/").replace("../../out/", f"{out}/")
    if extra_steps:
        text = text.replace("output:", f"{extra_steps}output:", 1)
    path = out / name
    path.write_text(text)
    return path


@pytest.mark.slow
def test_pretraining_example_cleans_dedups_and_writes_token_shards(tmp_path: Path) -> None:
    """pretrain.yaml: near and exact copies are rejected, blocks decode to kept documents."""
    result = run(load_spec(_copy("pretrain.yaml", tmp_path)), progress=False)
    assert result.counters.dropped.get("dedup.exact", 0) >= 1
    assert result.counters.dropped.get("dedup.near", 0) >= 1
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "pretrain/tokens/tokenizer"))
    blocks = load_blocks(tmp_path / "pretrain/tokens")
    manifest = json.loads((tmp_path / "pretrain/tokens/manifest.json").read_text())
    assert manifest["num_blocks"] == len(blocks) and manifest["dtype"] == "uint16"
    first_doc = tok.decode(blocks[0]["input_ids"]).split("<|endoftext|>")[0]
    clean, _ = read_input(tmp_path / "pretrain/clean/part-00000.parquet", None)
    kept = clean.column("text").to_pylist()
    assert kept[0].startswith(first_doc)


@pytest.mark.slow
def test_sft_example_with_encode_and_pack(tmp_path: Path, llama_tokenizer_dir: Path) -> None:
    """sft.yaml plus encode + pack: four formats parsed, broken rows rejected, packed ids out."""
    extra = (
        f"  - encode: {{tokenizer: {llama_tokenizer_dir}, template: llama2, max_length: 256}}\n"
        "  - pack: {max_length: 512}\n"
    )
    result = run(load_spec(_copy("sft.yaml", tmp_path, extra)), progress=False)
    names = [n for n, _ in result.per_step]
    assert {"parse.alpaca", "parse.dolly", "parse.sharegpt", "parse.openai", "pack"} <= set(names)
    assert any(r.startswith("parse.") for r in result.counters.dropped)
    assert any(r.startswith("input.") for r in result.counters.dropped)
    ds = load_dataset_any(tmp_path / "sft" / "data")
    assert {"input_ids", "labels", "position_ids"} <= set(ds.column_names)
    assert all(len(r) <= 512 for r in ds["input_ids"])
    assert (tmp_path / "sft" / "report" / "counters.json").exists()
