"""decontaminate: shared n-grams with eval sets, near-duplicates of eval texts."""

from __future__ import annotations

import datasets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import EvalNgrams, decontaminate, shingles, words
from tests.dedup._strategies import distinct_words, vocab_documents

EVAL_Q = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)


def expected_matches(text: str, evals: list[str], n: int, min_words: int) -> set[str]:
    """Every n-gram of ``text`` that the contract says is contaminated (oracle)."""
    found: set[str] = set()
    for e in evals:
        c = len(words(e))
        if c >= n:
            found |= set(shingles(text, ngram=n)) & set(shingles(e, ngram=n))
        elif c >= min_words:  # a short eval text is matched as a whole inside the row
            found |= {" ".join(words(e))} & set(shingles(text, ngram=c))
        else:  # a very short eval text only matches a row with the same words
            found |= {" ".join(words(e))} & set(shingles(text, ngram=n))
    return found


@settings(max_examples=40)
@given(
    train=st.lists(vocab_documents, min_size=1, max_size=8),
    evals=st.lists(vocab_documents, min_size=1, max_size=4),
    n=st.integers(1, 6),
    data=st.data(),
)
def test_rejected_iff_an_ngram_is_shared(
    train: list[str], evals: list[str], n: int, data: st.DataObject
) -> None:
    """Property: a row is rejected exactly when it holds an eval n-gram (or a whole short eval)."""
    min_words = data.draw(st.integers(1, n))
    kept, rejected = decontaminate(train, {"ev": evals}, ngram=n, min_words=min_words)
    assert len(kept) + len(rejected) == len(train)
    for r in rejected:
        assert r["drop_reason"] == "dedup.contaminated:ev"
        assert r["contamination"] in expected_matches(r["text"], evals, n, min_words)
    for r in kept:
        assert not expected_matches(r["text"], evals, n, min_words)


@settings(max_examples=30)
@given(vocab=distinct_words)
def test_first_shared_ngram_is_recorded(vocab: list[str]) -> None:
    """Property: the recorded n-gram is the first shared one in the training row."""
    text = " ".join(vocab)
    n = 2
    start = (len(vocab) - n) // 2  # the eval text keeps >= n words
    ev = " ".join(vocab[start:])
    _, rejected = decontaminate([text], {"ev": [ev]}, ngram=n)
    assert rejected[0]["contamination"] == " ".join(vocab[start : start + n])


def test_benchmark_question_inside_a_training_row() -> None:
    """A training row quoting an eval question (different case/punctuation) is rejected."""
    train = [
        "Q: natalia sold clips to 48 of her friends in april and then she sold half as many "
        "clips in may how many clips did natalia sell altogether. A: 72",
        "Q: A train leaves at noon travelling at sixty miles per hour; when does it arrive?",
    ]
    kept, rejected = decontaminate(train, {"mmlu": ["unrelated text"], "gsm8k": [EVAL_Q]})
    assert [r["text"] for r in kept] == [train[1]]
    assert rejected[0]["drop_reason"] == "dedup.contaminated:gsm8k"
    assert rejected[0]["contamination"] == (
        "natalia sold clips to 48 of her friends in april and then she"
    )


def test_short_question_inside_a_longer_row() -> None:
    """An eval question shorter than ngram words is found inside a longer training row."""
    question = "Which planet in our solar system has the most moons?"
    train = [
        f"User: {question.upper()} Assistant: Saturn, at last count.",
        "User: which planet has rings? Assistant: Saturn.",
    ]
    kept, rejected = decontaminate(train, {"trivia": [question]})
    assert [r["text"] for r in kept] == [train[1]]
    assert rejected[0]["contamination"] == "which planet in our solar system has the most moons"
    assert decontaminate(train, {"trivia": [question]}, min_words=13)[1] == []


def test_ngram_in_two_eval_sets_names_the_first() -> None:
    """When both eval sets contain the n-gram, the first set in the mapping is named."""
    text = "alpha beta gamma delta"
    _, rejected = decontaminate([text], {"one": [text], "two": [text]}, ngram=2)
    assert rejected[0]["drop_reason"] == "dedup.contaminated:one"


def test_near_duplicate_of_eval_text_on_a_dataset() -> None:
    """With near_threshold a paraphrase sharing no 13-gram is still caught by MinHash."""
    eval_words = (EVAL_Q + " " + EVAL_Q.replace("Natalia", "Maria")).split()
    para = [w if i % 11 != 5 else "CHANGED" for i, w in enumerate(eval_words)]
    paraphrase, eval_text = " ".join(para), " ".join(eval_words)
    assert not set(shingles(paraphrase, ngram=13)) & set(shingles(eval_text, ngram=13))
    ds = datasets.Dataset.from_dict({"text": [paraphrase, "an unrelated training row"]})
    kept, rejected = decontaminate(ds, {"gsm8k": [eval_text]}, ngram=13)
    assert len(rejected) == 0
    kept, rejected = decontaminate(
        ds, {"gsm8k": [eval_text]}, ngram=13, near_threshold=0.5, near_ngram=3
    )
    assert rejected["drop_reason"] == ["dedup.contaminated:gsm8k"]
    assert rejected["contamination"][0].startswith("near-duplicate of gsm8k[0]")
    assert kept["text"] == ["an unrelated training row"]


def test_eval_table_lookup_and_validation() -> None:
    """EvalNgrams refuses bad input and finds nothing in an empty-overlap batch."""
    table = EvalNgrams.build({"ev": ["one two three"]}, ngram=2)
    assert table.lookup(["four five six", ""]) == [None, None]
    with pytest.raises(ValueError, match="non-empty"):
        EvalNgrams.build({}, ngram=2)
    with pytest.raises(TypeError, match="'ev'"):
        EvalNgrams.build({"ev": "not a list"}, ngram=2)
    with pytest.raises(ValueError, match="min_words"):
        EvalNgrams.build({"ev": ["x"]}, ngram=5, min_words=6)
    with pytest.raises(ValueError, match="near_threshold"):
        decontaminate(["x"], {"ev": ["x"]}, near_threshold=2.0)
