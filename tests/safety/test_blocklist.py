"""Blocklist: normalisation, the documented evasions, word boundaries, per-language lists."""

from __future__ import annotations

import pickle
import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sftdata import SftDataError, split_rejects
from sftdata.safety import DEFAULT_TERMS, Blocklist, blocked_terms, normalize
from tests.strategies import plain_text

terms = st.text(string.ascii_lowercase, min_size=3, max_size=8)
words = st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=7), max_size=3).map(" ".join)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def accented(s: str) -> str:
    return "".join(unicodedata.normalize("NFC", c + "\u0301") for c in s)


EVASIONS = {
    "upper": str.upper,
    "fullwidth": fullwidth,
    "accents": accented,
    "zero_width": lambda s: "\u200b".join(s),
    "dots": lambda s: ".".join(s),
    "spaces": lambda s: " ".join(s),
    "hyphens": lambda s: "-".join(s),
}


@given(terms, st.sampled_from(sorted(EVASIONS)), words, words)
def test_documented_evasions_are_caught(term, evasion, before, after):
    """Each evasion the module docstring lists as caught is caught, wherever the term sits."""
    text = f"{before} {EVASIONS[evasion](term)} {after}"
    assert blocked_terms(text, terms={"t": [term]}) == "t"


@given(terms, st.text(string.ascii_lowercase, min_size=1, max_size=4), st.booleans())
def test_a_term_inside_a_longer_word_is_not_matched(term, extra, at_start):
    """Whole words only: `bad` does not match `badge` or `sinbad`."""
    word = extra + term if at_start else term + extra
    assert blocked_terms(f"see {word} here", terms={"t": [term]}) is None


@given(plain_text)
def test_normalize_is_idempotent(text):
    """normalize(normalize(x)) == normalize(x): terms and texts meet in one fixed form."""
    assert normalize(normalize(text)) == normalize(text)


def test_documented_limits_are_real():
    """What the docstring says is not caught: mixed separators, doubled letters."""
    t = {"t": ["bad"]}
    assert blocked_terms("b.a-d", terms=t) is None
    assert blocked_terms("baad", terms=t) is None
    assert blocked_terms("b4d and b@d", terms=t) == "t"
    assert blocked_terms("b\u0430d", terms=t) == "t"  # Cyrillic a


def test_phrases_match_across_whitespace_and_punctuation():
    step = Blocklist(terms={"spam.casino": ["online casino"]})
    out = step({"text": ["ONLINE\n\tcasino!", "online-casino", "online casinos", "casino online"]})
    assert out["drop_reason"] == [
        "safety.blocklist:spam.casino",
        "safety.blocklist:spam.casino",
        None,
        None,
    ]


def test_default_list_rejects_with_the_term_id():
    out = Blocklist()({"text": ["what the FUCK", "a fine day", "Scunthorpe United"]})
    assert out["drop_reason"] == ["safety.blocklist:en.fuck", None, None]
    assert all(phrases for phrases in DEFAULT_TERMS.values())


def test_per_language_lists_apply_only_to_their_rows():
    step = Blocklist(terms={}, by_language={"de": {"de.mist": ["mist"]}})
    batch = {"text": ["so ein Mist", "light mist", "so ein mist"], "language": ["de", "en", None]}
    assert step(batch)["drop_reason"] == ["safety.blocklist:de.mist", None, None]


def test_unspaced_scripts_match_inside_text():
    assert blocked_terms("这是坏词语", terms={"zh.bad": ["坏词"]}) == "zh.bad"


def test_messages_rows_and_bad_rows():
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "You B.I.T.C.H"}]
    out = Blocklist()({"messages": [conv, [{"role": "user"}], None]})
    assert out["drop_reason"] == [
        "safety.blocklist:en.bitch",
        "safety.bad_message:0",
        "safety.not_messages",
    ]
    kept, rejected = split_rejects(out)
    assert len(kept["messages"]) + len(rejected["messages"]) == 3


def test_list_of_phrases_gets_ids_from_the_phrase():
    out = Blocklist(terms=["Bad Word"])({"text": ["a bad  word"]})
    assert out["drop_reason"] == ["safety.blocklist:bad_word"]


def test_invalid_arguments_fail_at_construction():
    with pytest.raises(SftDataError, match="term id"):
        Blocklist(terms={"has space": ["x"]})
    with pytest.raises(SftDataError, match="empty phrase"):
        Blocklist(terms={"t": ["  "]})
    with pytest.raises(SftDataError, match="list of str"):
        Blocklist(terms={"t": "word"})
    with pytest.raises(SftDataError, match="not a str"):
        Blocklist(terms="word")


def test_step_pickles_and_rebuilds_from_its_fields():
    step = Blocklist(terms={"t": ["bad"]}, by_language={"fr": {"fr.t": ["mauvais"]}})
    again = pickle.loads(pickle.dumps(step))
    assert again == step
    assert Blocklist(terms=step.terms, by_language=step.by_language) == step
