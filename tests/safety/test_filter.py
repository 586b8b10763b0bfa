"""PIIFilter: the batched step on text and messages rows, accounting, invariance, pickling."""

from __future__ import annotations

import pickle

import pytest
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import Counters, Pipeline, RowError, SftDataError, split_rejects
from sftdata.safety import Blocklist, ClassifierFilter, PIIFilter, filter_pii, find_pii
from tests.safety.pii_values import PII_VALUES, filler_words
from tests.safety.scorers import upper_share
from tests.strategies import conversations, json_like

pii_or_words = st.one_of(filler_words, *PII_VALUES.values())
texts = st.lists(pii_or_words, max_size=4).map(" ".join)
junk = json_like.filter(lambda v: not isinstance(v, str))

ALLOWED = {"pii.secret", "pii.credit_card", "safety.not_text", "safety.not_messages"}


@given(st.lists(st.one_of(texts, junk), max_size=12))
@settings(max_examples=25)
def test_every_text_row_is_kept_or_rejected_with_a_reason(values):
    """rows in == kept + rejected, reasons come from the documented set, kept rows hold no PII."""
    step = PIIFilter(reject=("secret", "credit_card"), redact=("email", "phone", "iban"))
    out = step({"text": values})
    kept, rejected = split_rejects(out)
    counts = Counters.from_batch(out)
    assert counts.rows_in == len(values) == len(kept["text"]) + len(rejected["text"])
    assert set(rejected["drop_reason"]) <= ALLOWED
    for text in kept["text"]:
        assert find_pii(text, types=("secret", "credit_card", "email", "phone", "iban")) == []


@given(st.lists(conversations(text=texts), min_size=1, max_size=5))
@settings(max_examples=15)
def test_messages_rows_keep_roles_and_redact_every_content(convs):
    """Each message keeps its role and gets exactly the redaction its content alone would get."""
    out = PIIFilter(reject=())({"messages": convs})
    assert out["drop_reason"] == [None] * len(convs)
    for before, after in zip(convs, out["messages"], strict=True):
        assert [m["role"] for m in after] == [m["role"] for m in before]
        assert [m["content"] for m in after] == [
            filter_pii(m["content"], reject=())[0] for m in before
        ]


@given(st.lists(texts, min_size=1, max_size=10), st.integers(1, 4))
@settings(max_examples=15)
def test_batch_size_does_not_change_the_output(values, batch_size):
    """ds.map with any batch size gives the same rows as one call on the whole column."""
    step = PIIFilter(spans_column="pii_spans")
    whole = step({"text": values})
    ds = Dataset.from_dict({"text": values})
    ds = ds.map(step, batched=True, batch_size=batch_size, features=step.features(ds.features))
    assert ds["text"] == whole["text"] and ds["drop_reason"] == whole["drop_reason"]
    assert ds["pii_spans"] == whole["pii_spans"]


def test_messages_dataset_through_a_pipeline_of_safety_steps():
    """A real datasets.Dataset of conversations: redaction, rejects and carried columns."""
    convs = [
        [
            {"role": "user", "content": "mail me: ann@example.com"},
            {"role": "assistant", "content": "ok"},
        ],
        [
            {"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"},
            {"role": "assistant", "content": "no"},
        ],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "get lost, wanker"}],
    ]
    ds = Dataset.from_dict({"messages": convs, "id": [1, 2, 3]})
    step = Pipeline((PIIFilter(), Blocklist()))
    out = ds.map(step, batched=True, batch_size=2, features=PIIFilter().features(ds.features))
    assert out["id"] == [1, 2, 3]
    assert out["drop_reason"] == [None, "pii.secret", "safety.blocklist:en.wanker"]
    assert out[0]["messages"][0] == {"role": "user", "content": "mail me: <EMAIL>"}
    assert out[1]["messages"] == convs[1]


@given(st.lists(st.one_of(texts, junk), min_size=1, max_size=10), st.data())
@settings(max_examples=25)
def test_every_safety_step_gives_the_same_rows_split_into_any_batches(values, data):
    """step(batch) == step(first part) + step(rest), for PIIFilter, Blocklist, ClassifierFilter."""
    cut = data.draw(st.integers(0, len(values)))
    for step in (PIIFilter(), Blocklist(), ClassifierFilter(scorer=upper_share, threshold=0.5)):
        whole, first, rest = (step({"text": v}) for v in (values, values[:cut], values[cut:]))
        assert whole == {k: first[k] + rest[k] for k in whole}


def test_secret_rejects_the_row_and_keeps_its_text():
    text = "my key is AKIAIOSFODNN7EXAMPLE, mail ann@example.com"
    out = PIIFilter()({"text": [text]})
    assert out == {"text": [text], "drop_reason": ["pii.secret"]}


def test_rows_already_rejected_pass_through_untouched():
    batch = {"text": ["ann@example.com", "bob@example.com"], "drop_reason": ["parse.empty", None]}
    out = PIIFilter()(batch)
    assert out["text"] == ["ann@example.com", "<EMAIL>"]
    assert out["drop_reason"] == ["parse.empty", None]


def test_spans_column_records_message_index_and_offsets():
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "write ann@example.com"},
    ]
    out = PIIFilter(spans_column="spans")({"messages": [conv], "id": [7]})
    assert out["id"] == [7]
    assert out["spans"] == [
        [
            {
                "message": 1,
                "type": "email",
                "start": 6,
                "end": 21,
                "text": "ann@example.com",
                "detail": "email",
            }
        ]
    ]


def test_bad_rows_get_reasons_not_exceptions():
    bad_message = [{"role": "user", "content": None}]
    out = PIIFilter()({"messages": [bad_message, "not a list", 5]})
    assert out["drop_reason"] == [
        "safety.bad_message:0",
        "safety.not_messages",
        "safety.not_messages",
    ]
    out = PIIFilter()({"text": [None, 5, ["a list"], b"bytes"]})
    assert out["drop_reason"] == ["safety.not_text"] * 4
    with pytest.raises(RowError):
        filter_pii(None)


def test_invalid_arguments_fail_at_construction():
    with pytest.raises(SftDataError, match="both redact and reject"):
        PIIFilter(redact=("email",), reject=("email",))
    with pytest.raises(SftDataError, match="unknown PII type"):
        PIIFilter(reject=("passport",))
    with pytest.raises(SftDataError, match="column"):
        PIIFilter(column="body")  # type: ignore[arg-type]
    with pytest.raises(SftDataError, match="region"):
        PIIFilter(region="USA")
    with pytest.raises(TypeError):
        PIIFilter(("email",))  # type: ignore[misc]  # options are keyword-only
    with pytest.raises(SftDataError, match="no 'text' column"):
        PIIFilter(column="text")({"messages": [[]]})


def test_step_pickles_and_equal_steps_hash_equal():
    step = PIIFilter(tags={"email": "[email]"}, region="GB")
    again = pickle.loads(pickle.dumps(step))
    assert again == step and hash(again) == hash(step)
    assert again({"text": ["ann@example.com"]})["text"] == ["[email]"]
