"""MinHash signatures: datasketch compatibility, batching invariance, the map step."""

from __future__ import annotations

import pickle

import datasketch
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import (
    MinHashSignatures,
    minhash_signatures,
    ngram_hashes,
    shingle_hash,
    shingle_hash64,
    shingles,
)
from tests.dedup._strategies import documents


def datasketch_signature(text: str, *, num_perm: int, seed: int, ngram: int) -> np.ndarray:
    m = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    m.update_batch(shingles(text, ngram=ngram))
    return m.hashvalues


@settings(max_examples=40)
@given(
    texts=st.lists(documents, min_size=1, max_size=6),
    num_perm=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    ngram=st.integers(1, 6),
)
def test_signature_equals_datasketch(
    texts: list[str], num_perm: int, seed: int, ngram: int
) -> None:
    """Property: each signature row equals datasketch.MinHash(hashfunc=shingle_hash).hashvalues."""
    sig = minhash_signatures(texts, num_perm=num_perm, seed=seed, ngram=ngram)
    assert sig.dtype == np.uint32 and sig.shape == (len(texts), num_perm)
    for text, row in zip(texts, sig, strict=True):
        expected = datasketch_signature(text, num_perm=num_perm, seed=seed, ngram=ngram)
        np.testing.assert_array_equal(row, expected)


@settings(max_examples=40)
@given(texts=st.lists(documents, min_size=1, max_size=10), ngram=st.integers(1, 5))
def test_batched_ngram_hashes_equal_reference(texts: list[str], ngram: int) -> None:
    """Property: the vectorised n-gram hashes and texts equal the per-shingle Python reference."""
    grams = ngram_hashes(texts, ngram=ngram)
    for i, text in enumerate(texts):
        expected = shingles(text, ngram=ngram)
        lo, hi = int(grams.offsets[i]), int(grams.offsets[i + 1])
        assert [grams.text(j) for j in range(lo, hi)] == expected
        assert grams.hashes[lo:hi].tolist() == [shingle_hash64(s) for s in expected]


@settings(max_examples=20)
@given(texts=st.lists(documents, min_size=1, max_size=12), split=st.integers(0, 12))
def test_signatures_independent_of_batching(texts: list[str], split: int) -> None:
    """Property: signing a list in two pieces gives the same rows as signing it whole."""
    whole = minhash_signatures(texts, num_perm=32)
    parts = [
        minhash_signatures(texts[:split], num_perm=32),
        minhash_signatures(texts[split:], num_perm=32),
    ]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


def test_long_document_spanning_kernel_chunks() -> None:
    """A document with more shingles than one kernel chunk still equals datasketch."""
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(500)]
    long_doc = " ".join(rng.choice(vocab, size=20_000))
    texts = ["short one", long_doc, "another short text here"]
    sig = minhash_signatures(texts, num_perm=16, seed=3)
    np.testing.assert_array_equal(
        sig[1], datasketch_signature(long_doc, num_perm=16, seed=3, ngram=5)
    )


def test_similar_documents_have_similar_signatures() -> None:
    """The share of equal signature positions tracks the true shingle Jaccard."""
    base = [f"token{i}" for i in range(200)]
    edited = base[:180] + [f"other{i}" for i in range(20)]
    a, b = " ".join(base), " ".join(edited)
    sa, sb = set(shingles(a)), set(shingles(b))
    truth = len(sa & sb) / len(sa | sb)
    sig = minhash_signatures([a, b], num_perm=512)
    estimate = float((sig[0] == sig[1]).mean())
    assert abs(estimate - truth) < 4 * np.sqrt(truth * (1 - truth) / 512)


def test_step_matches_function_and_pickles() -> None:
    """The map step writes the same signatures as the function and survives pickling."""
    step = MinHashSignatures(num_perm=8, ngram=2)
    batch = {"text": ["a b c", "c d e f", ""], "id": [1, 2, 3]}
    out = pickle.loads(pickle.dumps(step))(batch)
    np.testing.assert_array_equal(
        np.stack(out["minhash"]), minhash_signatures(batch["text"], num_perm=8, ngram=2)
    )
    assert out["id"] == [1, 2, 3] and out["drop_reason"] == [None, None, None]


def test_step_rejects_unusable_rows_and_keeps_count() -> None:
    """A row whose text is not a str is rejected with dedup.bad_text, the batch still runs."""
    out = MinHashSignatures(num_perm=4)({"text": ["fine text", None]})
    assert out["drop_reason"] == [None, "dedup.bad_text"]
    assert len(out["minhash"]) == 2


def test_step_fingerprint_is_stable() -> None:
    """Two equal steps hash to the same datasets fingerprint (cache hits across runs)."""
    from datasets.fingerprint import Hasher

    assert Hasher.hash(MinHashSignatures(num_perm=64)) == Hasher.hash(
        MinHashSignatures(num_perm=64)
    )
    assert Hasher.hash(MinHashSignatures(num_perm=64)) != Hasher.hash(
        MinHashSignatures(num_perm=32)
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"num_perm": 0}, "num_perm"), ({"ngram": 0}, "ngram"), ({"seed": -1}, "seed")],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, int], field: str) -> None:
    """Bad parameters fail before any work, naming the parameter."""
    with pytest.raises(ValueError, match=field):
        minhash_signatures(["x"], **kwargs)
    with pytest.raises(ValueError, match=field):
        MinHashSignatures(**kwargs)  # type: ignore[arg-type]


def test_one_string_is_refused() -> None:
    """Passing one str instead of a list is a TypeError, not 1 signature per character."""
    with pytest.raises(TypeError, match="sequence of str"):
        minhash_signatures("just one text")
