"""DPO on a real tiny Llama: ln 2 at the start, TRL's loss as the oracle, pairs learned."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from sfttrain import Prepared

from .conftest import base_config
from .pairs import pair_rows

pytestmark = pytest.mark.slow


def _logs(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("method", "lr"), [("full", 2e-3), ("lora", 1e-2), ("qlora", 1e-2)])
def test_dpo_starts_at_ln2_and_learns_the_pairs(
    method: str, lr: float, tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: policy == reference (full: a frozen copy; LoRA, QLoRA: adapters off) gives loss
    ln 2 at step 1; a few steps reach reward accuracy 1.0 and a larger margin."""
    from sfttrain import train

    out = tmp_path / method
    cfg = base_config(
        tiny_model_dir, out, stage="dpo", method=method, max_steps=6, logging_steps=1,
        learning_rate=lr, batch_size=6, preference={"beta": 0.1},
        optim="paged_adamw_32bit" if method == "qlora" else "adamw_torch",
    )  # fmt: skip
    result = train(cfg, prepared=Prepared(train=pair_rows(tiny_tokenizer), eval=None))
    logs = [x for x in _logs(out) if "loss" in x]
    assert result.steps == 6
    assert logs[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert logs[0]["rewards/margin"] == pytest.approx(0.0, abs=1e-5)
    assert logs[-1]["rewards/accuracy"] == 1.0
    assert logs[-1]["rewards/margin"] > logs[0]["rewards/margin"] + 0.1
    assert logs[-1]["loss"] < logs[0]["loss"] - 0.1
    for key in ("rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"):
        assert key in logs[-1], key
    assert (out / "final").is_dir()


@pytest.fixture(scope="module")
def policy_and_reference(tiny_model_dir: Path) -> tuple[Any, Any]:
    """The tiny model as reference and a perturbed copy as policy (so the losses differ)."""
    import torch
    from transformers import AutoModelForCausalLM

    # float64: what remains of a difference is the method, not float32 rounding
    ref = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float64)
    policy = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return policy, ref


def _our_trainer(policy: Any, ref: Any, rows: Any, tokenizer: Any, out: Path, **pref: Any) -> Any:
    from sfttrain._dpo import PreferenceTrainer
    from sfttrain._pref_data import PairCollator
    from sfttrain._train import training_arguments

    cfg = base_config(Path("unused"), out, stage="dpo", method="full", preference=pref)
    return PreferenceTrainer(
        model=policy,
        args=training_arguments(cfg),
        data_collator=PairCollator(pad_token_id=tokenizer.pad_token_id),
        train_dataset=rows,
        stage="dpo",
        options=cfg.preference,
        ref_model=ref,
    )


@pytest.fixture(scope="module")
def trl_oracle(
    policy_and_reference: tuple[Any, Any], tiny_tokenizer: Any, tmp_path_factory: Any
) -> Any:
    """TRL's DPOTrainer on copies of the same policy and reference (loss options set per test)."""
    import copy

    import datasets
    from trl import DPOConfig, DPOTrainer

    from .pairs import PAIRS

    policy, ref = policy_and_reference
    text = datasets.Dataset.from_list(
        [{"prompt": p, "chosen": c, "rejected": x} for p, c, x in PAIRS]
    )
    args = DPOConfig(
        output_dir=str(tmp_path_factory.mktemp("trl")), use_cpu=True, report_to="none",
        max_length=None, bf16=False,
    )  # fmt: skip
    return DPOTrainer(
        model=copy.deepcopy(policy),
        ref_model=copy.deepcopy(ref),
        args=args,
        train_dataset=text,
        processing_class=tiny_tokenizer,
    )


@pytest.mark.parametrize(
    ("loss_type", "smoothing"), [("sigmoid", 0.0), ("ipo", 0.0), ("hinge", 0.0), ("robust", 0.2)]
)
def test_loss_equals_trl_dpo_trainer(
    loss_type: str, smoothing: float, policy_and_reference: tuple[Any, Any], trl_oracle: Any,
    tiny_tokenizer: Any, tmp_path: Path,
) -> None:  # fmt: skip
    """Property: on the same token ids, our loss equals TRL DPOTrainer's within 1e-5."""
    import torch

    policy, ref = policy_and_reference
    rows = pair_rows(tiny_tokenizer)
    pref = {"loss_type": loss_type, "beta": 0.3, "label_smoothing": smoothing}
    ours = _our_trainer(policy, ref, rows, tiny_tokenizer, tmp_path / "ours", **pref)
    with torch.no_grad():
        our_loss = float(ours.compute_loss(policy, ours.data_collator(list(rows))))

    features = []
    for r in rows:
        n = len(r["prompt_input_ids"])
        # the oracle scores every token after the prompt: that is exactly our labelled span
        for side in ("chosen", "rejected"):
            assert all(x != -100 for x in r[f"{side}_labels"][n:])
            assert all(x == -100 for x in r[f"{side}_labels"][:n])
        features.append(
            {
                "prompt_ids": r["prompt_input_ids"],
                "chosen_ids": r["chosen_input_ids"][n:],
                "rejected_ids": r["rejected_input_ids"][n:],
            }
        )
    trl_oracle.loss_types, trl_oracle.beta = [loss_type], 0.3
    trl_oracle.label_smoothing = smoothing
    with torch.no_grad():
        batch = trl_oracle.data_collator(features)
        trl_loss = float(trl_oracle._compute_loss(trl_oracle.model, batch, False))
    assert our_loss == pytest.approx(trl_loss, abs=1e-5)
    assert abs(our_loss - math.log(2)) > 1e-3  # a policy that differs from the reference


def test_precomputed_reference_equals_on_the_fly(
    policy_and_reference: tuple[Any, Any], tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: cached reference log-probs equal the reference forward, and the cache is reused."""
    import torch

    from sfttrain._dpo import precompute_reference

    policy, ref = policy_and_reference
    rows = pair_rows(tiny_tokenizer)
    trainer = _our_trainer(policy, ref, rows, tiny_tokenizer, tmp_path)
    batch = trainer.data_collator(list(rows))
    live = trainer.reference_logps(policy, batch)
    cached = precompute_reference(
        ref, rows, trainer.data_collator, cache_dir=tmp_path / "ref", key="k", batch_size=4
    )
    stored = torch.tensor(list(cached["ref_chosen_logps"]) + list(cached["ref_rejected_logps"]))
    assert torch.allclose(stored, live.float(), atol=1e-4)
    assert len(list((tmp_path / "ref").iterdir())) == 1
    again = precompute_reference(
        policy, rows, trainer.data_collator, cache_dir=tmp_path / "ref", key="k"
    )  # the policy differs: equal columns mean the cache was read, not recomputed
    assert list(again["ref_chosen_logps"]) == list(cached["ref_chosen_logps"])
    with torch.no_grad():
        with_ref = trainer.compute_loss(policy, trainer.data_collator(list(cached)))
        live_loss = trainer.compute_loss(policy, batch)
    assert float(with_ref) == pytest.approx(float(live_loss), abs=1e-5)


@pytest.mark.parametrize(("stage", "pref"), [("orpo", {"beta": 0.5}), ("kto", {"beta": 0.5})])
def test_orpo_and_kto_learn_the_pairs(
    stage: str, pref: dict[str, Any], tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: ORPO (no reference) and KTO (pairs unpaired) raise the chosen-vs-rejected margin."""
    from sfttrain import train

    cfg = base_config(
        tiny_model_dir, tmp_path, stage=stage, method="lora", max_steps=4, logging_steps=1,
        batch_size=12 if stage == "kto" else 6, preference=pref,  # one batch: every row
    )  # fmt: skip
    train(cfg, prepared=Prepared(train=pair_rows(tiny_tokenizer), eval=None))
    logs = [x for x in _logs(tmp_path) if "loss" in x]
    gap = [x["rewards/chosen"] - x["rewards/rejected"] for x in logs]
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert gap[-1] > gap[0]
    if stage == "kto":
        assert logs[0]["loss"] == pytest.approx(0.5, abs=1e-5)  # policy == reference
