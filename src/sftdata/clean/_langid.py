"""Language identification: ``detect_language`` / ``LangId`` (the ``langid`` extra).

The default detector is py3langid (``pip install 'sftdata[langid]'``): a naive Bayes
model over byte n-grams for 97 languages that ships inside its wheel, so nothing is
downloaded at run time. Any callable ``text -> (language, score)`` can replace it
(a fastText model, a transformers pipeline, ...): pass it as ``detector=``.

::

    text (in)                        language   language_score   drop_reason
    "The cat sleeps on the mat."     en         0.93             None
    "Le chat dort sur le tapis."     fr         0.98             lang.not_allowed   (languages=("en",))
    "1234"                           und        0.03             lang.low_confidence (min_score=0.5)

>>> LangId(detector=lambda t: ("en", 1.0))({"text": ["hello"]})
{'text': ['hello'], 'drop_reason': [None], 'language': ['en'], 'language_score': [1.0]}
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sftdata._batch import batch_len, drop_reasons
from sftdata._contract import DROP_REASON, Batch, RowError, SftDataError
from sftdata._texts import (
    Column,
    check_column,
    over_preference_rows,
    pick_column,
    row_texts,
    step_features,
)

Detector = Callable[[str], tuple[str, float]]
UNDETERMINED = "und"


@functools.lru_cache(maxsize=1)
def _py3langid() -> Any:
    # the model is loaded once per process (about a second), never stored on a step
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, *, detector: Detector | None = None) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` of ``text``; ``("und", 0.0)`` for blank text.

    >>> detect_language("   ")
    ('und', 0.0)
    >>> detect_language("Le chat dort sur le tapis du salon.")[0]
    'fr'
    """
    if not isinstance(text, str):
        raise RowError("lang.bad_text", f"text must be str, got {type(text).__name__}")
    if not text.strip():
        return UNDETERMINED, 0.0
    if detector is not None:
        lang, score = detector(text)
        return str(lang), float(score)
    lang, score = _py3langid().classify(text)
    return str(lang), float(score)


@dataclass(frozen=True)
class LangId:
    """Batched step: write ``language`` / ``language_score``; optionally keep some languages.

    - ``languages``: codes to keep (``None``: keep all, only label). Other rows get
      ``drop_reason="lang.not_allowed"``.
    - ``min_score``: below it the language is ``"und"``; with ``languages`` set (and
      ``"und"`` not in it) such rows get ``lang.low_confidence``.
    - ``messages`` rows: the contents of ``roles`` (default all) joined by a blank line.
    - ``detector``: a callable ``text -> (code, score)`` replacing py3langid.
    """

    languages: tuple[str, ...] | None = None
    min_score: float = 0.0
    detector: Detector | None = None
    language_column: str = "language"
    score_column: str = "language_score"
    roles: tuple[str, ...] | None = None
    column: Column = "auto"

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise SftDataError(f"LangId.min_score must be in [0, 1], got {self.min_score!r}")
        if self.detector is not None and not callable(self.detector):
            raise TypeError(f"LangId.detector must be callable, got {self.detector!r}")
        if self.detector is None and importlib.util.find_spec("py3langid") is None:
            raise SftDataError(
                "LangId needs py3langid: pip install 'sftdata[langid]' or pass detector="
            )
        for name in ("languages", "roles"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"LangId.{name} must be a tuple of codes, got the string {value!r}")
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        check_column(self.column, what="LangId.column")

    def detect(self, text: str) -> tuple[str, float]:
        """Language of one text with this step's detector and ``min_score``."""
        lang, score = detect_language(text, detector=self.detector)
        return (UNDETERMINED if score < self.min_score else lang), score

    def features(self, input_features: Mapping[str, Any]) -> Any:
        """Output ``datasets.Features``: the input's, ``drop_reason`` and the language columns."""
        import datasets

        extra = {
            self.language_column: datasets.Value("string"),
            self.score_column: datasets.Value("float64"),
        }
        return step_features(input_features, extra)

    @over_preference_rows
    def __call__(self, batch: Batch) -> Batch:
        name = pick_column(batch, self.column)
        out: Batch = dict(batch)
        reasons = drop_reasons(batch)
        langs: list[str | None] = [None] * batch_len(batch)
        scores: list[float | None] = [None] * batch_len(batch)
        for i, value in enumerate(batch[name]):
            if reasons[i] is not None:
                continue
            try:
                text = "\n\n".join(row_texts(value, name, step="lang", roles=self.roles))
                langs[i], scores[i] = self.detect(text)
            except RowError as e:
                reasons[i] = e.reason
                continue
            if self.languages is not None and langs[i] not in self.languages:
                low = langs[i] == UNDETERMINED
                reasons[i] = "lang.low_confidence" if low else "lang.not_allowed"
        out[DROP_REASON] = reasons
        out[self.language_column] = langs
        out[self.score_column] = scores
        return out
