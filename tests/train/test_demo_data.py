"""The shipped demo data makes every sftdata stage of `sfttrain demo` do something."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / "examples" / "data"


def test_demo_data_file_is_what_its_generator_writes(tmp_path: Path) -> None:
    """Property: the committed demo files equal a fresh run of make_demo_data.py."""
    script = DATA / "make_demo_data.py"
    copy = tmp_path / "make_demo_data.py"
    copy.write_text(script.read_text())
    subprocess.run([sys.executable, str(copy)], check=True, timeout=60)
    for f in sorted(DATA.glob("*.jsonl")):
        assert (tmp_path / f.name).read_text() == f.read_text(), f.name


@pytest.mark.slow
def test_every_demo_stage_drops_or_changes_rows() -> None:
    """Property: parse, clean, safety, exact and near dedup each report work, and rows add up."""
    from sfttrain._demo import prepare_demo_rows

    lines: list[str] = []
    rejects: list = []
    kept = prepare_demo_rows(DATA, lines.append, rejects)
    stages = {line.split()[0]: line for line in lines}
    assert set(stages) == {"parse", "clean", "safety", "dedup", "near-dedup"}
    counts = [tuple(map(int, re.findall(r"(\d+) -> +(\d+)", line)[0])) for line in lines]
    for (_, after), (before, _) in itertools.pairwise(counts):
        assert after == before  # each stage starts where the last one ended
    assert counts[-1][1] == len(kept)
    # nothing vanishes: every row read is kept or sits in a rejects set with a reason
    assert counts[0][0] == len(kept) + sum(len(r) for r in rejects)
    assert all(reason for r in rejects for reason in r["drop_reason"])
    assert "input.bad_json" in stages["parse"] and "parse.bad_role" in stages["parse"]
    assert re.search(r"texts fixed in [1-9]", stages["clean"])
    assert re.search(r"PII redacted in [1-9]", stages["safety"]) and "pii." in stages["safety"]
    assert re.search(r"exact copies [1-9]", stages["dedup"])
    assert re.search(r"near copies [1-9]", stages["near-dedup"])
