"""Data distribution reports and mixture sampling.

A report is measured part by part and merged (``measure(part) + measure(part)``), so a
corpus never needs to fit in memory at once; ``report(ds)`` does both in one call.

>>> import sftdata as sd
>>> sd.stats.report({"text": ["a b", "c"]}).chars["total"]
4
>>> parts = [sd.stats.measure({"text": ["a b"]}), sd.stats.measure({"text": ["c"]})]
>>> sd.stats.merge(parts).report().chars["total"]
4
>>> len(sd.mix({"x": [{"text": "1"}] * 4, "y": [{"text": "2"}] * 4}, [1, 1], seed=0))
8
"""

from sftdata.stats._lengths import LengthCounts
from sftdata.stats._measure import PartStats, measure, merge, report
from sftdata.stats._mix import mix, mixture_probabilities
from sftdata.stats._report import Report

__all__ = [
    "LengthCounts",
    "PartStats",
    "Report",
    "measure",
    "merge",
    "mix",
    "mixture_probabilities",
    "report",
]
