"""EncodePreference against TRL's own DPO tokenization (trl as a test-only oracle).

TRL 1.16's ``DPOTrainer`` tokenizes ``prompt`` (with the generation prompt),
``prompt + chosen`` and ``prompt + rejected`` with ``apply_chat_template`` and splits
them where they diverge. On a byte-level BPE with the ChatML template, where
``apply_chat_template`` is the reference, our ids must be exactly its ids.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sftdata as sd
from tests.strategies import preference_rows, visible_content, words

trl_data = pytest.importorskip("trl.data_utils")

# No "<|" in content: apply_chat_template would turn "<|im_end|>" in a message into a
# control token (sd.encode keeps it text; see tests/encode).
_text = st.one_of(words, visible_content.filter(lambda s: "<|" not in s))


@pytest.mark.slow
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=preference_rows(max_turns=2, text=_text))
def test_ids_equal_trls_dpo_tokenization(
    row: dict[str, Any], pref_tokenizers: dict[str, Any]
) -> None:
    """prompt ids == TRL's prompt_ids; chosen/rejected ids == TRL's prompt_ids + completion ids."""
    tok = pref_tokenizers["bpe"]
    prompt = trl_data._tokenize(tok, row["prompt"], add_generation_prompt=True)["input_ids"]
    full = {
        side: trl_data._tokenize(tok, row["prompt"] + row[side])["input_ids"]
        for side in ("chosen", "rejected")
    }
    out = sd.encode_preference(row, tok, "chatml", max_length=100_000)
    assert out["prompt_input_ids"].tolist() == list(prompt)
    for side, ids in full.items():
        n = trl_data.common_prefix_length(prompt, ids)
        assert n == len(prompt)  # TRL cuts nothing off this prompt either
        assert out[f"{side}_input_ids"].tolist() == list(ids)
