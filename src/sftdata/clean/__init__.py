"""Text cleaning: mojibake and Unicode repair, quality heuristics, language id.

>>> import sftdata as sd
>>> sd.clean.fix_text("CafÃ©   ")
'Café'

Steps work on the ``text`` column or on every message of ``messages`` (see
:mod:`sftdata.clean._apply`, which other text areas reuse).
"""

from sftdata.clean._apply import judge_texts, map_texts, pick_column, row_texts
from sftdata.clean._fix import FixText, fix_text, ftfy_fix

__all__ = [
    "FixText",
    "fix_text",
    "ftfy_fix",
    "judge_texts",
    "map_texts",
    "pick_column",
    "row_texts",
]
