"""Text cleaning: mojibake and Unicode repair, quality heuristics, language id.

>>> import sftdata as sd
>>> sd.clean.fix_text("CafÃ©   ")
'Café'

Steps work on the ``text`` column or on every message of ``messages`` (see
:mod:`sftdata._texts`, which the safety area shares).
"""

from sftdata._texts import judge_texts, map_texts, pick_column, row_texts, step_features
from sftdata.clean._fix import FixText, fix_text
from sftdata.clean._ftfy_fast import ftfy_fix
from sftdata.clean._langid import LangId, detect_language
from sftdata.clean._quality import GOPHER_STOP_WORDS, QualityFilter, quality_reasons

__all__ = [
    "GOPHER_STOP_WORDS",
    "FixText",
    "LangId",
    "QualityFilter",
    "detect_language",
    "fix_text",
    "ftfy_fix",
    "judge_texts",
    "map_texts",
    "pick_column",
    "quality_reasons",
    "row_texts",
    "step_features",
]
