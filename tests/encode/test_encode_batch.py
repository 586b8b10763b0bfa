"""Encode on whole batches: every row of a large mixed batch equals its per-row reference.

The batched encoder compiles one program per conversation shape, shares control tokens
and glue between rows, and tokenizes all rows' pieces in grouped sequences of one call.
None of that may show in the result: each row's ids equal
:func:`sftdata.templates.token_ids` (the per-row, per-piece reference) and a token is
trained exactly when its characters touch a segment the template trains under
``loss_on`` / ``train_on_eos``, found here token by token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import IGNORE_INDEX, SftDataError
from sftdata.templates import token_ids
from sftdata.templates._segments import special_token_id
from tests.encode.test_encode import _trained_ranges
from tests.strategies import content, conversations


def _usable(template: Any, tok: Any) -> bool:
    try:
        Encode = sd.Encode(tok, template, max_length=10)
    except SftDataError:
        return False
    del Encode
    return all(_has(tok, t) for t in (template.bos, template.eos, *template.control_tokens) if t)


def _has(tok: Any, token: str) -> bool:
    try:
        special_token_id(tok, token)
    except SftDataError:
        return False
    return True


@pytest.fixture(scope="module")
def tokenizers(llama_tokenizer_dir: Path) -> dict[str, Any]:
    """Plain LLaMA, LLaMA + ChatML tokens, and LLaMA legacy=False + ChatML tokens (its
    START and CONT pieces go to two calls)."""
    from transformers import LlamaTokenizer

    from tests.encode.conftest import make_bpe_chatml_tokenizer, make_chatml_tokenizer

    first = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    first.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return {
        "llama": LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir)),
        "chatml": make_chatml_tokenizer(llama_tokenizer_dir),
        "first": first,
        "bpe": make_bpe_chatml_tokenizer(),
    }


def _reference_labels(
    tok: Any, template: Any, messages: list[dict[str, str]], loss_on: str, eos: bool
) -> list[bool]:
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    out = []
    for segs in _trained_ranges(tok, template, messages):
        out.append(
            loss_on == "all"
            or any(
                s.train and (eos or s.content) and (loss_on == "assistant" or s.message == last)
                for s in segs
            )
        )
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    base=st.lists(conversations(text=content, max_turns=3), min_size=1, max_size=12),
    size=st.integers(min_value=1, max_value=300),
    loss_on=st.sampled_from(["assistant", "last", "all"]),
    eos=st.booleans(),
)
def test_every_row_of_a_batch_equals_its_reference(
    data: st.DataObject,
    base: list[list[dict[str, str]]],
    size: int,
    loss_on: str,
    eos: bool,
    tokenizers: dict[str, Any],
) -> None:
    """Up to 300 rows (a dozen conversations, repeated and shuffled), any usable
    template and tokenizer pair, any loss_on / train_on_eos."""
    name, tok_name = data.draw(st.sampled_from(_usable_pairs(tokenizers)))
    tok, template = tokenizers[tok_name], sd.templates.get(name)
    order = data.draw(st.permutations([i % len(base) for i in range(size)]))
    step = sd.Encode(tok, template, max_length=100_000, loss_on=loss_on, train_on_eos=eos)  # type: ignore[arg-type]
    out = step({"messages": [base[k] for k in order]})
    want_ids = [token_ids(template.segments(m), tok) for m in base]
    want_labels = [_reference_labels(tok, template, m, loss_on, eos) for m in base]
    for i, k in enumerate(order):
        ids, labels = out["input_ids"][i].tolist(), out["labels"][i].tolist()
        if out["drop_reason"][i] is not None:
            assert out["drop_reason"][i] == "encode.no_trained_tokens"
            assert not any(want_labels[k])
            continue
        assert ids == want_ids[k]
        assert [label != IGNORE_INDEX for label in labels] == want_labels[k]
        assert all(label in (IGNORE_INDEX, t) for label, t in zip(labels, ids, strict=True))


_PAIRS: list[tuple[str, str]] = []


def _usable_pairs(tokenizers: dict[str, Any]) -> list[tuple[str, str]]:
    """(template, tokenizer) pairs where the tokenizer has every control token."""
    if not _PAIRS:
        for tok_name, tok in tokenizers.items():
            for name in sd.templates.names():
                if _usable(sd.templates.get(name), tok):
                    _PAIRS.append((name, tok_name))
    return _PAIRS


def test_the_shared_pieces_are_tokenized_once(tokenizers: dict[str, Any]) -> None:
    """After a first batch, a second batch of the same shapes adds nothing to the table."""
    tok = tokenizers["chatml"]
    step = sd.Encode(tok, "chatml", max_length=4096)
    rows = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
        for i in range(50)
    ]
    step({"messages": rows})
    table = step._shared()
    size = len(table.ids)
    assert size > 0 and len(table.where) >= 3  # <|im_start|>, <|im_end|> (trained or not), "\n"
    step({"messages": rows[::-1]})
    assert len(table.ids) == size
