"""LangId / detect_language: the real py3langid model, the detector hook, rejects."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.clean import LangId, QualityFilter, detect_language
from tests.clean._strategies import any_text

SENTENCES = {
    "en": "The children walked to school along the river while it was raining.",
    "fr": "Les enfants sont allés à l'école le long de la rivière sous la pluie.",
    "de": "Die Kinder gingen im Regen am Fluss entlang zur Schule.",
    "es": "Los niños caminaron a la escuela junto al río mientras llovía.",
}


def script_detector(text: str) -> tuple[str, float]:
    """A tiny real detector: Japanese if any kana, else Latin-script 'xx'."""
    kana = any("\u3040" <= c <= "\u30ff" for c in text)
    return ("ja", 1.0) if kana else ("xx", 0.5)


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_py3langid_detects_plain_sentences(lang: str) -> None:
    """The bundled model names the language of a clear sentence."""
    code, score = detect_language(SENTENCES[lang])
    assert code == lang and 0 < score <= 1


def test_step_labels_filters_and_feeds_quality() -> None:
    """LangId writes language columns, rejects other languages, and QualityFilter reads them."""
    texts = [SENTENCES["en"], SENTENCES["fr"], "   ", None]
    out = LangId(languages=("en", "fr"))({"text": texts})
    assert out["language"][:3] == ["en", "fr", "und"]
    assert out["drop_reason"] == [None, None, "lang.low_confidence", "lang.bad_text"]
    step = QualityFilter(min_words=3, stop_words={"fr": ["le", "la", "les"]}, default_language=None)
    assert step(out)["drop_reason"][:2] == [None, None]  # en: no list given -> rule skipped
    only_en = LangId(languages=("en",))({"text": texts[:2]})
    assert only_en["drop_reason"] == [None, "lang.not_allowed"]


def test_messages_roles_and_min_score() -> None:
    """Messages are judged on the chosen roles; low scores become 'und'."""
    convo = [
        {"role": "user", "content": SENTENCES["de"]},
        {"role": "assistant", "content": "ありがとう"},
    ]
    hook = LangId(detector=script_detector, roles=("user",))
    assert hook({"messages": [convo]})["language"] == ["xx"]
    assert LangId(detector=script_detector)({"messages": [convo]})["language"] == ["ja"]
    strict = LangId(detector=script_detector, min_score=0.9, languages=("ja",))
    assert strict({"text": ["plain"]})["drop_reason"] == ["lang.low_confidence"]


@settings(max_examples=20)
@given(texts=st.lists(st.one_of(any_text, st.none()), max_size=8))
def test_every_row_labelled_or_rejected(texts: list) -> None:
    """Each row gets a language and a score in [0, 1], or a lang.* reason."""
    out = LangId()({"text": texts})
    for lang, score, reason in zip(
        out["language"], out["language_score"], out["drop_reason"], strict=True
    ):
        assert (reason is not None and reason.startswith("lang.")) or (
            isinstance(lang, str) and 0 <= score <= 1
        )


def test_bad_arguments_and_pickling() -> None:
    """Bad options fail early; the step pickles (the model is never stored on it)."""
    with pytest.raises(sd.SftDataError, match="min_score"):
        LangId(min_score=2)
    with pytest.raises(TypeError, match="languages"):
        LangId(languages="en")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="detector"):
        LangId(detector="py3langid")  # type: ignore[arg-type]
    step = LangId(languages=("en",))
    step({"text": ["warm the model"]})
    assert pickle.loads(pickle.dumps(step)) == step
