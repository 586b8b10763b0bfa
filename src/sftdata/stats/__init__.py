"""Data distribution reports and mixture sampling.

>>> import sftdata as sd
>>> sd.stats.report({"text": ["a b", "c"]}).chars["total"]
4
>>> len(sd.mix({"x": [{"text": "1"}] * 4, "y": [{"text": "2"}] * 4}, [1, 1], seed=0))
8
"""

from sftdata.stats._mix import mix, mixture_probabilities
from sftdata.stats._report import Report, report

__all__ = ["Report", "mix", "mixture_probabilities", "report"]
