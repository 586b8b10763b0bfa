"""GRPO through TRL with sftdata's prompt ids: a tiny run in the suite.

The fuller run (mean reward rising over more steps) is ``benchmarks/preference_train.py
--grpo``; it takes minutes on 2 CPUs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import base_config
from .pairs import encode_pair

pytestmark = pytest.mark.slow

PROMPTS = ["Say something.", "Write a word.", "Tell me a fact.", "Name a thing."]


def test_grpo_runs_on_sftdata_prompt_ids(
    tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: GRPO trains from 'module:function' rewards on the template's own prompt ids."""
    from sfttrain import train
    from sfttrain._grpo import _trainer_class

    data = tmp_path / "prompts.jsonl"
    rows = [{"prompt": q} for q in PROMPTS] + [{"prompt": 3}]  # the last row is unusable
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = base_config(
        tiny_model_dir, tmp_path / "run", stage="grpo", method="lora", train_files=[str(data)],
        max_steps=2, batch_size=4, logging_steps=1,
        grpo={"rewards": ["sfttrain.rewards:lowercase_share"], "num_generations": 4,
              "max_new_tokens": 4},
    )  # fmt: skip
    seen: list[list[int]] = []
    cls = _trainer_class()
    original = cls._tokenize_prompts

    def spy(self: Any, prompts: list[Any]) -> Any:
        out = original(self, prompts)
        seen.extend(out[0])
        return out

    cls._tokenize_prompts = spy  # type: ignore[method-assign]
    try:
        result = train(cfg)
    finally:
        cls._tokenize_prompts = original  # type: ignore[method-assign]
    assert result.steps == 2 and result.counts == {"read": 5, "prompts": 4}
    # the prompt part of sftdata's training encoding (everything before the answer)
    expected = {
        tuple(encode_pair(q, "Yes.", "No.", tiny_tokenizer)["prompt_input_ids"]) for q in PROMPTS
    }
    assert seen and {tuple(s) for s in seen} <= expected
    logs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rewards = [x["reward"] for x in logs if "reward" in x]
    assert len(rewards) == 2 and all(0 <= r <= 1 for r in rewards)
    assert (result.final_dir / "adapter_config.json").is_file()
