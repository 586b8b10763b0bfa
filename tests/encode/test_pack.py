"""pack: every token once, position_ids per sample, rejects, bin quality, input kinds."""

from __future__ import annotations

import datasets
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sftdata as sd
from sftdata import DROP_REASON, IGNORE_INDEX, SftDataError
from sftdata.encode._pack import best_fit_decreasing, pack_stats

rows_strategy = st.lists(
    st.lists(st.integers(min_value=0, max_value=50), min_size=0, max_size=30),
    min_size=0,
    max_size=25,
)


def _labelled(rows: list[list[int]]) -> dict[str, list[list[int]]]:
    # labels differ from ids so we can tell them apart after packing
    return {"input_ids": rows, "labels": [[-t - 1 for t in r] for r in rows]}


@given(rows=rows_strategy, max_length=st.integers(min_value=1, max_value=40), split=st.booleans())
def test_every_kept_token_appears_exactly_once_in_its_sample(
    rows: list[list[int]], max_length: int, split: bool
) -> None:
    """Each sample of each packed row is a contiguous slice of one input row; together they cover each kept row once."""
    batch = _labelled(rows)
    packed, rejected = sd.pack(batch, max_length=max_length, split_long=split)
    covered: dict[int, list[int]] = {}
    for ids, labels, lens, src in zip(
        packed["input_ids"],
        packed["labels"],
        packed["seq_lens"],
        packed["source_rows"],
        strict=True,
    ):
        assert len(ids) == sum(lens) <= max_length
        start = 0
        for n, r in zip(lens, src, strict=True):
            covered.setdefault(r, []).extend(ids[start : start + n])
            assert labels[start] == IGNORE_INDEX
            assert labels[start + 1 : start + n] == [-t - 1 for t in ids[start + 1 : start + n]]
            start += n
    kept = {i for i, r in enumerate(rows) if r and (split or len(r) <= max_length)}
    assert set(covered) == kept
    for i in kept:  # chunks of a split row may land in any order: compare as multisets of chunks
        assert sorted(covered[i]) == sorted(rows[i])
        if len(rows[i]) <= max_length:
            assert covered[i] == rows[i]
    assert len(rejected["input_ids"]) + len(kept) == len(rows)


@given(rows=rows_strategy, max_length=st.integers(min_value=1, max_value=40))
def test_position_ids_restart_at_each_sample_and_never_run_across(
    rows: list[list[int]], max_length: int
) -> None:
    """position_ids are 0..n-1 inside each sample, so a boundary is exactly where they reset to 0."""
    packed, _ = sd.pack({"input_ids": rows}, max_length=max_length)
    for pos, lens, mask in zip(
        packed["position_ids"], packed["seq_lens"], packed["attention_mask"], strict=True
    ):
        assert pos == [p for n in lens for p in range(n)]
        assert mask == [1] * len(pos)


@given(rows=rows_strategy, max_length=st.integers(min_value=1, max_value=40))
def test_rows_in_equals_packed_samples_plus_rejected(
    rows: list[list[int]], max_length: int
) -> None:
    """Without splitting, every input row is either one packed sample or one rejected row with a reason."""
    packed, rejected = sd.pack({"input_ids": rows}, max_length=max_length)
    samples = sum(len(s) for s in packed["seq_lens"])
    assert samples + len(rejected["input_ids"]) == len(rows)
    for ids, reason in zip(rejected["input_ids"], rejected[DROP_REASON], strict=True):
        assert reason == ("pack.empty" if not ids else "pack.too_long")
        assert len(ids) == 0 or len(ids) > max_length


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=64), max_size=60),
    capacity=st.integers(min_value=64, max_value=100),
)
def test_best_fit_leaves_at_most_one_bin_half_empty(lengths: list[int], capacity: int) -> None:
    """An any-fit packing never has two bins at most half full, and never overfills a bin."""
    bins = best_fit_decreasing(lengths, capacity)
    loads = [sum(lengths[i] for i in b) for b in bins]
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(load <= capacity for load in loads)
    assert sum(1 for load in loads if 2 * load <= capacity) <= 1


def test_rows_already_rejected_pass_through_untouched() -> None:
    """A row with a drop_reason keeps it and is never packed."""
    batch = {"input_ids": [[1, 2], [3, 4]], DROP_REASON: ["dedup.exact", None], "id": ["a", "b"]}
    packed, rejected = sd.pack(batch, max_length=4)
    assert packed["input_ids"] == [[3, 4]]
    assert rejected == {"input_ids": [[1, 2]], DROP_REASON: ["dedup.exact"], "id": ["a"]}


def test_dataset_and_row_list_inputs_give_the_same_packing() -> None:
    """A datasets.Dataset (even a shuffled selection), a dict batch and a row list pack identically."""
    rows = [[i] * n for i, n in enumerate([7, 3, 12, 1, 9, 5, 2, 0, 11])]
    batch = {"input_ids": rows, "id": list(range(len(rows)))}
    ds = datasets.Dataset.from_dict({"input_ids": rows[::-1], "id": batch["id"][::-1]})
    ds = ds.select(range(len(rows) - 1, -1, -1))  # indices mapping, same order as `rows`
    p_dict, r_dict = sd.pack(batch, max_length=12)
    p_ds, r_ds = sd.pack(ds, max_length=12)
    p_list, r_list = sd.pack([{"input_ids": r, "id": i} for i, r in enumerate(rows)], max_length=12)
    assert p_ds.to_dict() == p_dict
    assert [dict(r) for r in p_list] == [
        {k: p_dict[k][b] for k in p_dict} for b in range(len(p_dict["input_ids"]))
    ]
    assert r_ds.to_dict() == r_dict == {"input_ids": [[]], "id": [7], DROP_REASON: ["pack.empty"]}
    assert [r["id"] for r in r_list] == [7]
    assert p_ds.features["input_ids"].feature.dtype == "int32"
    assert p_ds.features["attention_mask"].feature.dtype == "int8"


def test_stats_report_bins_and_efficiency() -> None:
    """Efficiency is real tokens over bins * max_length."""
    packed, _ = sd.pack({"input_ids": [[1] * 6, [2] * 4, [3] * 2]}, max_length=6)
    stats = pack_stats(packed, max_length=6)
    assert (stats.bins, stats.samples, stats.tokens) == (2, 3, 12)
    assert stats.efficiency == 1.0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, None])
def test_bad_max_length_is_rejected(bad: object) -> None:
    """max_length must be a positive int, checked before reading the rows."""
    with pytest.raises(SftDataError, match="max_length"):
        sd.pack({"input_ids": [[1]]}, max_length=bad)  # type: ignore[arg-type]


def test_missing_columns_and_mismatched_labels_are_named() -> None:
    """Errors name the missing column or the row whose labels do not match its ids."""
    with pytest.raises(SftDataError, match="'input_ids'"):
        sd.pack({"text": ["a"]}, max_length=4)
    with pytest.raises(SftDataError, match="row 1"):
        sd.pack({"input_ids": [[1], [1, 2]], "labels": [[1], [1]]}, max_length=4)


def test_packed_dataset_fingerprint_follows_input_and_options() -> None:
    """Packing the same Dataset twice gives the same fingerprint; another max_length gives another."""
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4, 5], [6]]})
    a, _ = sd.pack(ds, max_length=4)
    b, _ = sd.pack(ds, max_length=4)
    c, _ = sd.pack(ds, max_length=5)
    assert a._fingerprint == b._fingerprint != c._fingerprint
    assert a._fingerprint != ds._fingerprint
