"""One short LoRA run, then what is done with it: reload, export, eval, generate.

Tolerances: a reloaded adapter is compared exactly (same weights, same ops); the
merged export against base+adapter at atol 1e-5 (the merge adds B·A·scale into W
once instead of summing two matmul results: float32 rounding only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import sftdata as sd
from sfttrain import Prepared
from tests.strategies import conversations, words

from .conftest import OVERFIT_CHATS, base_config, encoded_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path_factory: Any) -> Any:
    from sfttrain import train

    out = tmp_path_factory.mktemp("lora_run")
    cfg = base_config(tiny_model_dir, out, max_steps=4)
    return train(cfg, prepared=Prepared(train=encoded_rows(tiny_tokenizer), eval=None))


@pytest.fixture(scope="module")
def merged(lora_run: Any, tmp_path_factory: Any) -> Path:
    from sfttrain import export

    return export(lora_run.final_dir, tmp_path_factory.mktemp("export"))


def _logits(model: Any, ids: Any) -> Any:
    import torch

    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_reload_identical_and_merge_matches(
    lora_run: Any, merged: Path, tiny_model_dir: Path, tiny_tokenizer: Any
) -> None:
    """Property: reloaded adapter logits are identical; the merged export matches to 1e-5."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([tiny_tokenizer("The quick brown fox jumps").input_ids])

    def adapted() -> Any:
        base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
        return _logits(PeftModel.from_pretrained(base, str(lora_run.final_dir)), ids)

    plain = _logits(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), ids)
    first, second = adapted(), adapted()
    assert not torch.allclose(plain, first)  # training changed the model
    assert torch.equal(first, second)
    assert (merged / "model.safetensors").is_file()
    assert not (merged / "adapter_config.json").exists()
    exported = _logits(AutoModelForCausalLM.from_pretrained(str(merged)), ids)
    torch.testing.assert_close(exported, first, atol=1e-5, rtol=0)


@settings(max_examples=25)
@given(conversations(text=words))
def test_exported_chat_template_gives_the_trained_ids(merged: Path, conv: Any) -> None:
    """Property: the export's apply_chat_template ids equal sd.encode's training ids."""
    from sfttrain import load_tokenizer

    tok = _cached_tokenizer(merged, load_tokenizer)
    trained = sd.encode(conv, tok, "llama2", max_length=4096)["input_ids"].tolist()
    served = tok.apply_chat_template(conv, tokenize=True)
    served = served["input_ids"] if hasattr(served, "keys") else served
    assert list(served) == trained


_TOKENIZERS: dict[Path, Any] = {}


def _cached_tokenizer(path: Path, load: Any) -> Any:
    if path not in _TOKENIZERS:
        _TOKENIZERS[path] = load(path)
    return _TOKENIZERS[path]


def test_heldout_loss_is_the_models_own_loss(merged: Path, tiny_tokenizer: Any) -> None:
    """Property: held-out loss over trained tokens equals transformers' loss on the same row."""
    import torch
    from transformers import AutoModelForCausalLM

    from sfttrain import heldout_loss

    model = AutoModelForCausalLM.from_pretrained(str(merged))
    rows = encoded_rows(tiny_tokenizer, repeat=1).to_list()
    ours = heldout_loss(model, rows, pad_token_id=tiny_tokenizer.pad_token_id, batch_size=4)
    total = tokens = 0.0
    for r in rows:  # one row at a time, no padding: transformers' mean over its labels
        with torch.no_grad():
            out = model(
                input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]])
            )
        n = sum(1 for x in r["labels"][1:] if x != -100)
        total, tokens = total + out.loss.item() * n, tokens + n
    assert ours["tokens"] == tokens
    assert ours["loss"] == pytest.approx(total / tokens, rel=1e-5)
    assert ours["perplexity"] == pytest.approx(
        float(torch.exp(torch.tensor(total / tokens))), rel=1e-4
    )


def test_left_padded_batch_generation_equals_one_by_one(merged: Path) -> None:
    """Property: greedy replies in one left-padded batch equal replies generated one by one."""
    from sfttrain import generate

    convs = [c[:-1] for c in OVERFIT_CHATS]  # drop the answers: prompts of varied lengths
    batched = generate(merged, convs, max_new_tokens=6, batch_size=len(convs))
    single = [generate(merged, [c], max_new_tokens=6)[0] for c in convs[:3]]
    assert batched[:3] == single


def test_multiple_choice_and_generation_metrics_via_cli(
    merged: Path, tmp_path: Path, capsys: Any
) -> None:
    """Property: `sfttrain eval` reports accuracy in [0, 1] over every question it was given."""
    from sfttrain.cli import main

    mc = tmp_path / "mc.jsonl"
    rows = [
        {"question": "Capital of France?", "choices": ["Paris.", "Rome.", "Oslo."], "answer": 0},
        {"question": "Two plus two?", "choices": ["Three.", "Four."], "answer": "B"},
        {"question": "Opposite of hot?", "choices": ["Warm.", "Cold."], "answer": "Cold."},
    ]
    mc.write_text("\n".join(json.dumps(r) for r in rows))
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Say hello.", "answer": "Hello there!"}) + "\n")
    assert main(["eval", str(merged), "--choices", str(mc), "--generation", str(qa)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["choices"]["n"] == 3 and 0 <= report["choices"]["acc"] <= 1
    assert report["generation"]["n"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "choices": ["a", "b"], "answer": "Z"}))
    assert main(["eval", str(merged), "--choices", str(bad)]) == 2
    assert "answer" in capsys.readouterr().err
