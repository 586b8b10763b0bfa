"""QualityFilter / quality_reasons: each Gopher rule, accounting, messages, languages."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.clean import QualityFilter, quality_reasons
from tests.clean._strategies import any_text
from tests.clean._strategies import ascii_words as words
from tests.strategies import conversations

PROSE = (
    "The river town woke slowly that morning. Fishermen carried their nets to the "
    "harbour, and the baker opened the shutters of his small shop with a tired smile. "
    "Children ran between the market stalls, chasing a dog that had stolen a loaf of "
    "bread. By noon the square was full of voices, and the old clock above the church "
    "struck twelve while the sun warmed the stones of the bridge."
)
ALL_OFF = dict.fromkeys(
    ["min_words", "max_words", "min_mean_word_length", "max_mean_word_length",
     "max_symbol_word_ratio", "max_bullet_line_frac", "max_ellipsis_line_frac",
     "min_alpha_word_frac", "min_stop_words", "max_dup_line_frac", "max_dup_para_frac",
     "max_dup_line_char_frac", "max_dup_para_char_frac"],
)  # fmt: skip
ALL_OFF.update(max_top_ngram_char_frac=(), max_dup_ngram_char_frac=())


def test_clean_prose_is_kept() -> None:
    """A normal English paragraph passes every default rule."""
    assert quality_reasons(PROSE) == []


RULE_CASES = [
        ("Just a few words here.", "quality.too_short"),
        (PROSE + " x" * 100_000, "quality.too_long"),
        (PROSE + " " + " ".join(["supercalifragilisticexpialidocious"] * 60), "quality.mean_word_length"),
        (PROSE + " #tag" * 10, "quality.symbol_ratio"),
        (PROSE + "..." * 10, "quality.symbol_ratio"),
        ("\n".join(f"- item {w} of the list" for w in PROSE.split()), "quality.bullet_lines"),
        ("\n".join(s + "..." for s in PROSE.split(". ")), "quality.ellipsis_lines"),
        (PROSE + " 12 34 56 78 90" * 5, "quality.alpha_words"),
        (" ".join(w for w in PROSE.split() if w.lower() not in {"the", "and", "of", "to", "with", "that"}), "quality.stop_words"),
        ("\n".join([PROSE] * 3), "quality.repetition.dup_line_frac"),
        ("\n\n".join([PROSE] * 3), "quality.repetition.dup_para_frac"),
        (PROSE + " the river" * 12, "quality.repetition.top_2gram"),
        (PROSE + " " + PROSE[:200], "quality.repetition.dup_5gram"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "reason"), RULE_CASES, ids=[r for _, r in RULE_CASES])
def test_each_rule_fires(text: str, reason: str) -> None:
    """A text built to break one rule is rejected with that rule's reason."""
    assert reason in quality_reasons(text)


@settings(max_examples=30)
@given(texts=st.lists(st.one_of(any_text, words, st.none(), st.integers()), max_size=10))
def test_every_row_kept_or_rejected_with_a_reason(texts: list) -> None:
    """kept + rejected == in; every reject carries a quality.* reason."""
    out = QualityFilter()({"text": texts})
    kept, rejected = sd.split_rejects(out)
    assert len(kept["text"]) + len(rejected["text"]) == len(texts)
    assert all(r.startswith("quality.") for r in rejected["drop_reason"])
    counters = sd.Counters.from_batch(out)
    assert counters.rows_in == len(texts) and counters.kept + counters.rejected == len(texts)


@settings(max_examples=40)
@given(text=any_text, lang=st.sampled_from(["en", "fr", None]))
def test_switching_rules_off_never_adds_a_reason(text: str, lang: str | None) -> None:
    """Reasons of the chat preset are a subset of the defaults'; all rules off keeps all."""
    default = set(quality_reasons(text, language=lang))
    assert set(QualityFilter.chat().reasons(text, language=lang)) <= default
    assert quality_reasons(text, language=lang, **ALL_OFF) == []


@settings(max_examples=30)
@given(lines=st.lists(words, min_size=1, max_size=8, unique=True), k=st.integers(2, 4))
def test_repeated_lines_are_caught(lines: list[str], k: int) -> None:
    """Any block of distinct lines repeated k >= 2 times fails dup_line_frac."""
    assert "quality.repetition.dup_line_frac" in quality_reasons("\n".join(lines * k))


@settings(max_examples=25)
@given(
    texts=st.lists(st.one_of(any_text, words, st.none()), min_size=1, max_size=10),
    size=st.integers(1, 4),
)
def test_batch_size_invariant(texts: list, size: int) -> None:
    """Running on slices of any size equals one run on all rows."""
    step = QualityFilter.chat()
    whole = step({"text": texts})
    parts = [step({"text": texts[i : i + size]}) for i in range(0, len(texts), size)]
    assert whole == {k: [v for p in parts for v in p[k]] for k in whole}


def test_messages_judge_assistant_turns_by_default() -> None:
    """Only the assistant turns are judged unless roles says otherwise."""
    spam = "buy now " * 30
    convo = [{"role": "user", "content": spam}, {"role": "assistant", "content": PROSE}]
    assert QualityFilter()({"messages": [convo]})["drop_reason"] == [None]
    judged_all = QualityFilter(roles=None)({"messages": [convo]})["drop_reason"][0]
    assert judged_all is not None and judged_all.startswith("quality.")
    repeated = [
        *convo,
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": PROSE},
    ]
    out = QualityFilter()({"messages": [repeated]})["drop_reason"]
    assert out[0] is not None and out[0].startswith("quality.repetition.dup_")


@settings(max_examples=20)
@given(convo=conversations(text=words))
def test_chat_preset_keeps_ordinary_conversations(convo: list) -> None:
    """Short non-repetitive answers pass the chat preset (if no answer repeats)."""
    answers = [m["content"] for m in convo if m["role"] == "assistant"]
    reason = QualityFilter.chat()({"messages": [convo]})["drop_reason"][0]
    if len(set(answers)) == len(answers) and len("\n\n".join(answers).split()) < 5:
        assert reason is None


def test_stop_words_per_language() -> None:
    """The row's language picks its stop-word list; unknown languages skip the rule."""
    fr = "le chat et le chien de la maison sont dans le jardin avec les enfants " * 1
    step = QualityFilter(min_words=5, stop_words={"en": ["the", "and"], "fr": ["le", "et", "la"]})
    out = step({"text": [fr, fr, fr], "language": ["fr", "en", "xx"]})
    assert out["drop_reason"] == [None, "quality.stop_words", None]
    assert quality_reasons(fr, min_words=5, language="de") == []  # no German list given


def test_bad_arguments_fail_early() -> None:
    """Out-of-range thresholds and crossed bounds raise, naming the field."""
    with pytest.raises(sd.SftDataError, match="max_dup_line_frac"):
        QualityFilter(max_dup_line_frac=1.5)
    with pytest.raises(sd.SftDataError, match="min_words"):
        QualityFilter(min_words=10, max_words=5)
    with pytest.raises(sd.SftDataError, match="max_dup_ngram_char_frac"):
        QualityFilter(max_dup_ngram_char_frac=((0, 0.1),))
    with pytest.raises(sd.SftDataError, match="column"):
        QualityFilter(column="body")  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="stop_words"):
        QualityFilter(stop_words={"en": "the and of"})
    with pytest.raises(sd.SftDataError, match="stop_words"):
        QualityFilter(stop_words="the")
    with pytest.raises(TypeError, match="roles"):
        QualityFilter(roles="assistant")  # type: ignore[arg-type]


def test_ten_megabytes_is_fast() -> None:
    """A 10 MB text is rejected as too long without computing n-gram statistics."""
    start = time.perf_counter()
    assert quality_reasons("word " * 2_000_000) == ["quality.too_long"]
    assert time.perf_counter() - start < 10
