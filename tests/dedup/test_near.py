"""minhash_dedup: properties of the global pass, Dataset and list inputs, incremental index."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import datasets
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import split_rejects
from sftdata.dedup import (
    MarkDuplicates,
    MinHashIndex,
    MinHashSignatures,
    minhash_dedup,
    minhash_signatures,
    near_duplicate_roots,
    shingles,
)
from tests.dedup._strategies import distinct_words, vocab_documents


def texts_of(rows: list[dict]) -> list[str]:
    return [r["text"] for r in rows]


corpora = st.lists(vocab_documents, min_size=1, max_size=25)


@settings(max_examples=30)
@given(texts=corpora)
def test_kept_plus_rejected_is_input_and_deterministic(texts: list[str]) -> None:
    """Property: len(kept)+len(rejected)==len(in), nothing invented, two runs give the same split."""
    kept, rejected = minhash_dedup(texts, threshold=0.7, num_perm=32)
    assert len(kept) + len(rejected) == len(texts)
    assert sorted(texts_of(kept) + texts_of(rejected)) == sorted(texts)
    again = minhash_dedup(texts, threshold=0.7, num_perm=32)
    assert (kept, rejected) == again


@settings(max_examples=30)
@given(texts=corpora)
def test_dedup_is_idempotent(texts: list[str]) -> None:
    """Property: deduplicating the kept rows again removes nothing."""
    kept, _ = minhash_dedup(texts, threshold=0.7, num_perm=32)
    kept2, rejected2 = minhash_dedup(texts_of(kept), threshold=0.7, num_perm=32)
    assert rejected2 == [] and texts_of(kept2) == texts_of(kept)


@settings(max_examples=30)
@given(texts=corpora, data=st.data())
def test_exact_copy_always_clusters_with_lowest_index_kept(
    texts: list[str], data: st.DataObject
) -> None:
    """Property: a document's appended exact copy is rejected, pointing at a lower row."""
    src = data.draw(st.integers(0, len(texts) - 1))
    rows = [{"id": i, "text": t} for i, t in enumerate([*texts, texts[src]])]
    kept, rejected = minhash_dedup(rows, threshold=0.9, num_perm=32)
    copy = [r for r in rejected if r["id"] == len(texts)]
    assert len(copy) == 1 and copy[0]["drop_reason"] == "dedup.near"
    assert copy[0]["dup_of"] <= src and copy[0]["dup_of"] in {r["id"] for r in kept}
    assert all(r["dup_of"] < r["id"] for r in rejected)


@settings(max_examples=30)
@given(vocab=distinct_words, cut=st.data())
def test_documents_without_shared_shingle_never_cluster(
    vocab: list[str], cut: st.DataObject
) -> None:
    """Property: documents built from disjoint word sets (so no shared shingle) are all kept."""
    k = cut.draw(st.integers(1, len(vocab) - 1))
    docs = [" ".join(vocab[:k]), " ".join(vocab[k:])]
    assert not set(shingles(docs[0], ngram=2)) & set(shingles(docs[1], ngram=2))
    kept, rejected = minhash_dedup(docs, threshold=0.5, num_perm=64, ngram=2, verify=False)
    assert rejected == [] and texts_of(kept) == docs


@settings(max_examples=15)
@given(texts=corpora, batch_size=st.integers(1, 30))
def test_result_independent_of_batch_size(texts: list[str], batch_size: int) -> None:
    """Property: the split is the same for any batch size of the signature map."""
    expected = minhash_dedup(texts, threshold=0.7, num_perm=32)
    assert minhash_dedup(texts, threshold=0.7, num_perm=32, batch_size=batch_size) == expected


def planted_corpus(n_base: int, seed: int) -> tuple[list[str], set[tuple[int, int]]]:
    """Random documents plus lightly edited copies; returns texts and true pairs (J >= 0.8)."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(80, 200))) for _ in range(n_base)]
    for i in range(n_base // 2):
        words = texts[i].split()
        for _ in range(rng.randint(0, 3)):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.append(" ".join(words))
    sets = [set(shingles(t)) for t in texts]
    truth = {
        (i, j)
        for i, j in itertools.combinations(range(len(texts)), 2)
        if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= 0.8
    }
    return texts, truth


def test_precision_recall_floor_on_planted_near_duplicates() -> None:
    """Pairs in the same cluster vs brute-force Jaccard >= 0.8: precision and recall >= 0.9."""
    texts, truth = planted_corpus(150, seed=5)
    roots = near_duplicate_roots(minhash_signatures(texts), threshold=0.8)
    found = {
        (i, j) for i, j in itertools.combinations(range(len(texts)), 2) if roots[i] == roots[j]
    }
    tp = len(found & truth)
    assert len(truth) > 40
    assert tp / len(found) >= 0.9 and tp / len(truth) >= 0.9


def test_dataset_and_list_give_the_same_split(tmp_path: Path) -> None:
    """A datasets.Dataset (with num_proc=2) and a list of rows are split identically."""
    texts, _ = planted_corpus(40, seed=1)
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)]
    kept_l, rej_l = minhash_dedup(rows, num_perm=64)
    ds = datasets.Dataset.from_list(rows)
    kept_d, rej_d = minhash_dedup(ds, num_perm=64, num_proc=2, batch_size=7)
    assert kept_d.to_list() == kept_l and rej_d.to_list() == rej_l
    assert {r["dup_of"] for r in rej_l} <= {r["id"] for r in kept_l}
    assert all(r["dup_cluster"] is not None for r in rej_l)


def test_rows_rejected_upstream_pass_through() -> None:
    """A row already carrying a drop_reason keeps it and never becomes a cluster's survivor."""
    doc = "one two three four five six seven eight nine ten"
    rows = [
        {"text": doc, "drop_reason": "quality.too_short"},
        {"text": doc, "drop_reason": None},
        {"text": doc, "drop_reason": None},
    ]
    kept, rejected = minhash_dedup(rows)
    assert [r["drop_reason"] for r in rejected] == ["quality.too_short", "dedup.near"]
    assert rejected[1]["dup_of"] == 1 and len(kept) == 1


def test_messages_rows_with_user_fields_only() -> None:
    """Same prompt with different answers is a near-duplicate when fields='user'."""
    prompt = "please explain how photosynthesis turns light water and carbon dioxide into sugar"
    rows = [
        {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": a}]}
        for a in ["Plants use chlorophyll.", "It happens in the chloroplasts, in two stages."]
    ]
    assert len(minhash_dedup(rows, fields="all")[0]) == 2
    kept, rejected = minhash_dedup(rows, fields="user")
    assert len(kept) == 1 and rejected[0]["dup_of"] == 0


def test_incremental_dedup_against_saved_index(tmp_path: Path) -> None:
    """A saved and reloaded index rejects new rows that near-duplicate old ones."""
    old = ["the first old document talks about rivers and mountains in spring"] + [
        f"old filler document number {i} with some words about topic {i}" for i in range(5)
    ]
    index = MinHashIndex.build([{"id": f"old{i}", "text": t} for i, t in enumerate(old)])
    loaded = MinHashIndex.load(index.save(tmp_path / "idx"))
    assert isinstance(loaded.signatures, np.memmap) and loaded.ids == index.ids
    np.testing.assert_array_equal(loaded.signatures, index.signatures)
    new = [
        "The first old document talks about rivers and mountains in spring!",
        "a brand new document about something else entirely, nothing old",
        "a brand new document about something else entirely, nothing old",
    ]
    kept, rejected = minhash_dedup(new, against=loaded)
    assert texts_of(kept) == [new[1]]
    assert [(r["drop_reason"], r["dup_of"]) for r in rejected] == [
        ("dedup.near", "old0"),
        ("dedup.near", 1),
    ]


def test_index_parameters_must_match() -> None:
    """Deduping against an index built with another num_perm is refused, naming it."""
    index = MinHashIndex.build(["some text here"], num_perm=64)
    with pytest.raises(ValueError, match="num_perm"):
        minhash_dedup(["x"], against=index, num_perm=128)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"bands": 4}, "bands and rows"),
        ({"bands": 20, "rows": 20}, "num_perm"),
        ({"num_perm": 0}, "num_perm"),
        ({"batch_size": 0}, "batch_size"),
        ({"column": "nope"}, "nope"),
    ],
)
def test_bad_arguments_fail_early(kwargs: dict, match: str) -> None:
    """Bad options raise ValueError naming the option before any hashing."""
    with pytest.raises(ValueError, match=match):
        minhash_dedup(["a b c"], **kwargs)


def test_plain_split_rejects_agrees() -> None:
    """The returned halves are what split_rejects makes of the marked rows."""
    texts, _ = planted_corpus(10, seed=2)
    kept, rejected = minhash_dedup(texts)
    k2, r2 = split_rejects(kept + rejected)
    assert k2 == kept and r2 == rejected


@settings(max_examples=15)
@given(texts=corpora, batch_size=st.integers(1, 10))
def test_engine_pieces_reproduce_minhash_dedup(texts: list[str], batch_size: int) -> None:
    """Property: signatures map + near_duplicate_roots + MarkDuplicates in batches == minhash_dedup."""
    step = MinHashSignatures(num_perm=32)
    sig = np.concatenate(
        [
            np.stack(step({"text": texts[lo : lo + batch_size]})["minhash"])
            for lo in range(0, len(texts), batch_size)
        ]
    )
    mark = MarkDuplicates.from_roots(near_duplicate_roots(sig, threshold=0.7))
    rows: list[dict] = []
    for lo in range(0, len(texts), batch_size):
        out = mark(
            {
                "text": texts[lo : lo + batch_size],
                "row_index": list(range(lo, min(lo + batch_size, len(texts)))),
            }
        )
        rows += [{k: out[k][j] for k in out if k != "row_index"} for j in range(len(out["text"]))]
    kept, rejected = minhash_dedup(texts, threshold=0.7, num_perm=32)
    assert split_rejects(rows) == (kept, rejected)


def test_empty_input_gives_empty_outputs():
    """Zero rows in (list or Dataset) gives zero rows out, no error, for every pass."""
    from sftdata.dedup import decontaminate, exact_dedup

    assert minhash_dedup([]) == ([], [])
    empty = datasets.Dataset.from_dict({"text": []})
    for kept, rejected in (
        minhash_dedup(empty),
        exact_dedup(empty),
        decontaminate(empty, {"e": ["a b c"]}),
    ):
        assert len(kept) == len(rejected) == 0
