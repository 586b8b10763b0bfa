"""PreferenceCollator: encoded pairs padded into one batch, nothing lost or shifted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import IGNORE_INDEX, SftDataError
from tests.strategies import preference_rows


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(preference_rows(max_turns=2), min_size=1, max_size=6),
    multiple=st.sampled_from([None, 8]),
)
def test_unpadding_the_batch_gives_back_every_encoded_row(
    rows: list[dict[str, Any]], multiple: int | None, llama_tokenizer: Any
) -> None:
    """Each side's real tokens (attention 1) are the encoded row; padding is -100 / pad id;
    both sides share one width; prompt_lengths are the prompt ids' lengths."""
    step = sd.EncodePreference(llama_tokenizer, "llama2", max_length=100_000)
    out = step({c: [r[c] for r in rows] for c in ("prompt", "chosen", "rejected")})
    pairs = [{k: out[k][i] for k in out} for i in range(len(rows)) if out["drop_reason"][i] is None]
    if not pairs:
        return
    batch = sd.PreferenceCollator(0, pad_to_multiple_of=multiple, return_tensors="np")(pairs)
    width = batch["chosen_input_ids"].shape[1]
    assert batch["rejected_input_ids"].shape == (len(pairs), width)
    assert multiple is None or width % multiple == 0
    for i, pair in enumerate(pairs):
        for side in ("chosen", "rejected"):
            mask = batch[f"{side}_attention_mask"][i].astype(bool)
            assert (
                batch[f"{side}_input_ids"][i][mask].tolist() == pair[f"{side}_input_ids"].tolist()
            )
            assert batch[f"{side}_labels"][i][mask].tolist() == pair[f"{side}_labels"].tolist()
            assert (batch[f"{side}_labels"][i][~mask] == IGNORE_INDEX).all()
            assert (batch[f"{side}_input_ids"][i][~mask] == 0).all()
        assert batch["prompt_lengths"][i] == len(pair["prompt_input_ids"])


@pytest.mark.slow
def test_torch_tensors_and_bad_input(llama_tokenizer: Any) -> None:
    """Default output is torch tensors; no pad token, an empty list or a missing side is named."""
    import torch

    row = sd.encode_preference(
        {"prompt": "q", "chosen": "a", "rejected": "bb"}, llama_tokenizer, "llama2", max_length=64
    )
    batch = sd.PreferenceCollator.for_tokenizer(llama_tokenizer, pad_token_id=0)([row])
    assert isinstance(batch["chosen_input_ids"], torch.Tensor)
    assert batch["chosen_input_ids"].dtype == torch.int64
    with pytest.raises(SftDataError, match="pad"):
        sd.PreferenceCollator.for_tokenizer(llama_tokenizer)  # LLaMA has no pad token
    with pytest.raises(SftDataError, match="empty"):
        sd.PreferenceCollator(0)([])
    with pytest.raises(SftDataError, match="rejected_input_ids"):
        sd.PreferenceCollator(0)([{"chosen_input_ids": [1]}])
