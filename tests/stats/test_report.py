"""stats.report: totals against independent counts, real tokenizer, markdown, plots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.stats import report
from tests.clean._strategies import ascii_words as words
from tests.strategies import conversations, plain_text

texts_with_rejects = st.lists(
    st.tuples(st.one_of(plain_text, words), st.one_of(st.none(), st.sampled_from(["a.x", "b.y"]))),
    max_size=20,
)


@settings(max_examples=25)
@given(rows=texts_with_rejects)
def test_totals_match_independent_counts(rows: list) -> None:
    """chars total/max, kept and drop reasons equal counts made directly on the rows."""
    texts = [t for t, _ in rows]
    reasons = [r for _, r in rows]
    r = report({"text": texts, "drop_reason": reasons})
    kept = [t for t, reason in rows if reason is None]
    assert r.rows_in == len(rows) and r.counters.kept == len(kept)
    assert r.counters.kept + r.counters.rejected == r.rows_in
    assert r.counters.dropped == dict(Counter(x for x in reasons if x is not None))
    assert r.chars["total"] == sum(len(t) for t in kept)
    assert r.chars["max"] == max((len(t) for t in kept), default=0)
    if kept:
        assert sum(r.histograms["chars"]["counts"]) == len(kept)
    json.dumps(r.to_dict())  # plain builtins only


@settings(max_examples=15)
@given(convos=st.lists(conversations(text=st.one_of(words, plain_text)), min_size=1, max_size=6))
def test_roles_and_turns_match(convos: list) -> None:
    """Role balance and user turns per conversation match counting the messages."""
    r = report({"messages": convos})
    roles = Counter(m["role"] for c in convos for m in c)
    assert r.roles == dict(roles)
    assert r.turns is not None
    assert r.turns["total"] == sum(1 for c in convos for m in c if m["role"] == "user")
    assert r.chars["total"] == sum(len("\n".join(m["content"] for m in c)) for c in convos)


def test_tokens_match_sentencepiece(llama_tokenizer, sp_model_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Token totals with the HF tokenizer equal sentencepiece's own encoding."""
    texts = ["Hello world.", "Café crème, s'il vous plaît.", "def f(x):\n    return x * 2", ""]
    sp = spm.SentencePieceProcessor(model_file=str(sp_model_path))
    expected = [len(sp.encode(t)) for t in texts]
    r = report({"text": texts}, llama_tokenizer)
    assert r.tokens is not None
    assert r.tokens["total"] == sum(expected) and r.tokens["max"] == max(expected)
    assert report({"text": texts}, sp).tokens == r.tokens  # anything with .encode


def test_dataset_sources_languages_markdown_and_plots(tmp_path: Path) -> None:
    """A real Dataset: sources and languages counted, markdown lists them, PNGs written."""
    ds = datasets.Dataset.from_dict(
        {
            "text": ["one two", "three", "four five six", "x"],
            "source": ["web", "web", "books", "web"],
            "language": ["en", "en", "fr", "en"],
            "drop_reason": [None, None, None, "quality.too_short"],
        }
    )
    r = report(ds)
    assert r.sources == {"books": 1, "web": 2} and r.languages == {"en": 2, "fr": 1}
    md = r.to_markdown()
    for needle in ("| web | 2 |", "| fr | 1 |", "| quality.too_short | 1 |", "| 4 | 3 | 1 |"):
        assert needle in md
    paths = r.save(tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "chars_hist.png"]
    assert json.loads(paths[0].read_text())["drop_reasons"] == {"quality.too_short": 1}
    assert paths[1].read_text() == md
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_counters_merge_with_report() -> None:
    """Counters of two shards added with + equal the report of both shards together."""
    a = {"text": ["a", "b"], "drop_reason": [None, "x.y"]}
    b = {"text": ["c"], "drop_reason": ["x.y"]}
    both = {"text": a["text"] + b["text"], "drop_reason": a["drop_reason"] + b["drop_reason"]}
    assert report(a).counters + report(b).counters == report(both).counters


def test_bad_input() -> None:
    """Missing columns and bad arguments raise clear errors; junk values count as empty."""
    with pytest.raises(sd.SftDataError, match="'text' or 'messages'"):
        report({"body": ["x"]})
    with pytest.raises(sd.SftDataError, match="bins"):
        report({"text": ["x"]}, bins=0)
    r = report({"text": [None, 3, "ok"]})
    assert r.chars["total"] == 2 and r.rows_in == 3
    r = report({"messages": [None, [{"role": "user", "content": None}], "junk"]})
    assert r.chars["total"] == 0 and r.roles == {"user": 1}
