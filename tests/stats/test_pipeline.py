"""Clean steps chained over a real Dataset with sd.apply, then counted by the report."""

from __future__ import annotations

from collections import Counter

import datasets

import sftdata as sd
from sftdata.clean import FixText, LangId, QualityFilter
from sftdata.stats import report

ROWS = [
    ("The children walked to school along the river while it was raining.", "web"),
    ("Les enfants sont allés à l'école le long de la rivière sous la pluie.", "web"),
    ("CafÃ© crÃ¨me is what the old man ordered every single morning at nine.", "books"),
    (None, "books"),
    ("Buy cheap watches now! " * 8, "web"),
]


def test_chain_then_report_accounts_for_every_row() -> None:
    """Each row ends kept or rejected with one reason; the report's counts agree."""
    ds = datasets.Dataset.from_dict({"text": [t for t, _ in ROWS], "source": [s for _, s in ROWS]})
    for step in (FixText(), LangId(languages=("en",)), QualityFilter.chat()):
        ds = sd.apply(ds, step, keep_in_memory=True)
    assert ds.features["language_score"] == datasets.Value("float64")
    assert list(ds["drop_reason"]) == [
        None,
        "lang.not_allowed",
        None,
        "clean.bad_text",
        "quality.repetition.top_2gram",
    ]
    assert ds["text"][2].startswith("Café crème")
    r = report(ds)
    kept, rejected = sd.split_rejects(ds)
    assert r.counters.kept == len(kept) and r.counters.rejected == len(rejected)
    assert r.counters.dropped == dict(Counter(rejected["drop_reason"]))
    assert r.sources == dict(Counter(kept["source"]))
    assert r.languages == {"en": 2}
