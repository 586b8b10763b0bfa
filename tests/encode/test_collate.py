"""Collator: padding sides, attention from real lengths, packed rows, argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sftdata as sd
from sftdata import IGNORE_INDEX, SftDataError

token_rows = st.lists(
    st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=12), min_size=1, max_size=6
)


def _strip(batch: dict[str, np.ndarray]) -> list[tuple[list[int], list[int]]]:
    """Real (ids, labels) of each row, read back through the attention mask only."""
    out = []
    for ids, labels, mask in zip(
        batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True
    ):
        keep = mask.astype(bool)
        out.append((ids[keep].tolist(), labels[keep].tolist()))
    return out


@given(rows=token_rows, pad=st.integers(min_value=0, max_value=9))
def test_left_and_right_padding_strip_back_to_the_same_rows(
    rows: list[list[int]], pad: int
) -> None:
    """Left- and right-padded batches strip back to the input rows, even when pad is a real token id."""
    feats = [{"input_ids": r, "labels": [IGNORE_INDEX, *r[1:]]} for r in rows]
    right = sd.Collator(pad, padding_side="right", return_tensors="np")(feats)
    left = sd.Collator(pad, padding_side="left", return_tensors="np")(feats)
    expected = [(f["input_ids"], f["labels"]) for f in feats]
    assert _strip(right) == expected
    assert _strip(left) == expected
    assert right["attention_mask"].sum(axis=1).tolist() == [len(r) for r in rows]


@given(rows=token_rows, side=st.sampled_from(["right", "left"]), multiple=st.integers(1, 8))
def test_padding_carries_pad_id_and_ignored_labels(
    rows: list[list[int]], side: str, multiple: int
) -> None:
    """Every padded slot holds pad_token_id in input_ids and -100 in labels; width is a multiple."""
    b = sd.Collator(99, padding_side=side, pad_to_multiple_of=multiple, return_tensors="np")(
        [{"input_ids": r} for r in rows]
    )  # type: ignore[arg-type]
    assert b["input_ids"].shape[1] % multiple == 0
    assert b["input_ids"].shape[1] >= max(len(r) for r in rows)
    pad = b["attention_mask"] == 0
    assert (b["input_ids"][pad] == 99).all()
    assert (b["labels"][pad] == IGNORE_INDEX).all()
    if side == "right":
        assert all(b["attention_mask"][i, : len(r)].all() for i, r in enumerate(rows))
    else:
        assert all(b["attention_mask"][i, -len(r) :].all() for i, r in enumerate(rows))


@given(
    seq_lens=st.lists(
        st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
        min_size=1,
        max_size=3,
    )
)
def test_block_mask_lets_a_token_see_only_earlier_tokens_of_its_own_sample(
    seq_lens: list[list[int]],
) -> None:
    """The 4D mask allows (i, j) iff j <= i and both are in the same sample of the same packed row."""
    feats = []
    for lens in seq_lens:
        n = sum(lens)
        pos = [p for k in lens for p in range(k)]
        feats.append({"input_ids": list(range(n)), "position_ids": pos, "seq_lens": lens})
    b = sd.Collator(0, packed_attention="block_mask", return_tensors="np")(feats)
    mask = b["attention_mask"]
    width = b["input_ids"].shape[1]
    assert mask.shape == (len(feats), 1, width, width)
    for r, lens in enumerate(seq_lens):
        sample = [s for s, k in enumerate(lens) for _ in range(k)]
        n = len(sample)
        for i in range(n):
            for j in range(n):
                assert mask[r, 0, i, j] == (j <= i and sample[i] == sample[j])
        assert not mask[r, 0, :n, n:].any()  # no real token sees padding
        assert b["position_ids"][r, :n].tolist() == [p for k in lens for p in range(k)]


def test_packed_rows_in_position_ids_mode_have_no_2d_mask() -> None:
    """Padding-free layout: position_ids restart per sample and the padded tail starts its own run."""
    feats = [
        {"input_ids": [1, 2, 3, 4, 5], "position_ids": [0, 1, 2, 0, 1], "seq_lens": [3, 2]},
        {"input_ids": [6, 7], "position_ids": [0, 1], "seq_lens": [2]},
    ]
    b = sd.Collator(0)(feats)
    assert "attention_mask" not in b
    assert b["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 1, 2]]
    assert b["labels"][1].tolist() == [6, 7, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]


def test_missing_pad_token_error_suggests_choices(llama_tokenizer) -> None:  # type: ignore[no-untyped-def]
    """A tokenizer without a pad token and no pad_token_id gives an error naming the usual fixes."""
    assert llama_tokenizer.pad_token_id is None
    with pytest.raises(SftDataError, match="eos_token_id"):
        sd.Collator.for_tokenizer(llama_tokenizer)
    with pytest.raises(SftDataError, match="no pad token"):
        sd.Collator(None)
    c = sd.Collator.for_tokenizer(llama_tokenizer, pad_token_id=llama_tokenizer.eos_token_id)
    assert c.pad_token_id == llama_tokenizer.eos_token_id


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"padding_side": "middle"}, "padding_side"),
        ({"pad_to_multiple_of": 0}, "pad_to_multiple_of"),
        ({"return_tensors": "tf"}, "return_tensors"),
        ({"packed_attention": "none"}, "packed_attention"),
    ],
)
def test_bad_options_are_rejected_by_name(kwargs: dict[str, object], field: str) -> None:
    """Each invalid option raises before any work, naming the option."""
    with pytest.raises(SftDataError, match=field):
        sd.Collator(0, **kwargs)  # type: ignore[arg-type]


def test_row_errors_name_the_row() -> None:
    """Mismatched ids/labels and a missing input_ids column name the bad row."""
    c = sd.Collator(0)
    with pytest.raises(SftDataError, match="row 1 has 2 input_ids but 1 labels"):
        c([{"input_ids": [1]}, {"input_ids": [1, 2], "labels": [1]}])
    with pytest.raises(SftDataError, match="row 0 has no 'input_ids'"):
        c([{"labels": [1]}])


def test_options_are_keyword_only() -> None:
    """Only pad_token_id is positional."""
    with pytest.raises(TypeError):
        sd.Collator(0, "left")  # type: ignore[misc]


def test_works_as_a_trainer_collator_returning_torch_tensors(llama_tokenizer) -> None:  # type: ignore[no-untyped-def]
    """With return_tensors='pt' the batch is int64 torch tensors of equal shape."""
    import torch

    enc = [
        llama_tokenizer(t)["input_ids"] for t in ["Hello there", "A longer sentence to pad against"]
    ]
    b = sd.Collator(llama_tokenizer.eos_token_id)([{"input_ids": e} for e in enc])
    assert {k: v.dtype for k, v in b.items()} == dict.fromkeys(b, torch.int64)
    assert b["input_ids"].shape == b["labels"].shape == b["attention_mask"].shape
    assert b["attention_mask"].sum().item() == sum(len(e) for e in enc)
