"""Reward model on a real tiny Llama: Bradley-Terry training separates a toy set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfttrain import Prepared

from .conftest import base_config
from .pairs import pair_rows

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Can you help me?", "Will you answer?", "Is this right?", "Could you check this?",
    "May I ask something?", "Do you know the way?", "Can we start?", "Is it ready?",
    "Should I go on?", "Would you explain?", "Are you there?", "Can I trust this?",
    "Is it raining?", "Shall we eat?", "Do you agree?", "Is the door open?",
]  # fmt: skip
#: separable: the chosen answer is always polite and long, the rejected one curt
GOOD, BAD = "Yes, of course, I would be glad to help you with that.", "No."


def _pairs(questions: list[str], *, swap: bool = False) -> list[tuple[str, str, str]]:
    return [(q, BAD, GOOD) if swap else (q, GOOD, BAD) for q in questions]


def test_reward_model_separates_held_out_pairs(
    tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path, capsys: Any
) -> None:
    """Property: pairwise accuracy on held-out pairs goes from <= 0.5 to above 0.9."""
    from transformers import set_seed

    from sfttrain import train
    from sfttrain._reward import load_reward_for_inference, load_reward_model, pairwise_accuracy

    cfg = base_config(
        tiny_model_dir, tmp_path, stage="reward", method="lora", max_steps=8, batch_size=5,
        learning_rate=1e-2, eval_steps=8, eval_files=["unused.jsonl"], logging_steps=4,
    )  # fmt: skip
    # the untrained head ranks every pair alike; label the pairs so that it starts wrong
    set_seed(cfg.seed)
    untrained = load_reward_model(cfg, tiny_tokenizer.pad_token_id)
    held = pair_rows(tiny_tokenizer, _pairs(QUESTIONS[10:]))
    swap = pairwise_accuracy(untrained, held, tiny_tokenizer.pad_token_id) > 0.5
    held = pair_rows(tiny_tokenizer, _pairs(QUESTIONS[10:], swap=swap))
    assert pairwise_accuracy(untrained, held, tiny_tokenizer.pad_token_id) <= 0.5
    train_rows = pair_rows(tiny_tokenizer, _pairs(QUESTIONS[:10], swap=swap))
    result = train(cfg, prepared=Prepared(train=train_rows, eval=held))
    logs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in logs if "eval_rewards/accuracy" in x]
    assert evals and evals[-1]["eval_rewards/accuracy"] > 0.9
    model, _, _ = load_reward_for_inference(result.final_dir)
    assert pairwise_accuracy(model, held, tiny_tokenizer.pad_token_id) > 0.9
    _score_cli(result.final_dir, tmp_path, swap, capsys)


def _score_cli(model: Path, tmp_path: Path, swap: bool, capsys: Any) -> None:
    """``sfttrain score``: pairs and conversations scored; a bad row keeps its reason."""
    from sfttrain.cli import main

    good, bad = (BAD, GOOD) if swap else (GOOD, BAD)
    rows = [
        {"prompt": QUESTIONS[-1], "chosen": good, "rejected": bad},
        {"messages": [{"role": "user", "content": QUESTIONS[-2]},
                      {"role": "assistant", "content": good}]},
        {"prompt": QUESTIONS[-1], "chosen": good},
    ]  # fmt: skip
    data = tmp_path / "score.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    capsys.readouterr()
    assert main(["score", str(model), "--data", str(data)]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert out[0]["score_chosen"] > out[0]["score_rejected"]
    assert isinstance(out[1]["score"], float)
    assert out[2]["drop_reason"] == "parse.missing_field:rejected"
    assert out[3]["drop_reason"] == "input.bad_json"
