"""The shipped demo preference pairs: reproducible, and every stage has work to do."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import sftdata as sd

DATA = Path(__file__).parents[2] / "examples" / "data" / "preference"


def test_the_pairs_file_is_what_its_generator_writes(tmp_path: Path) -> None:
    """The committed pairs.jsonl equals a fresh run of make_pairs.py."""
    copy = tmp_path / "make_pairs.py"
    copy.write_text((DATA / "make_pairs.py").read_text())
    subprocess.run([sys.executable, str(copy)], check=True, timeout=60)
    assert (tmp_path / "pairs.jsonl").read_text() == (DATA / "pairs.jsonl").read_text()


def test_the_pairs_parse_with_reasons_and_all_kept_pairs_encode(llama_tokenizer: Any) -> None:
    """59 pairs parse and encode; the 5 malformed rows are rejected, each with its reason."""
    import datasets

    ds = datasets.load_dataset("json", data_files=str(DATA / "pairs.jsonl"), split="train")
    parsed = sd.apply(ds, sd.parse.Preference())
    reasons = Counter(parsed["drop_reason"])
    assert reasons == {
        None: 59,
        "parse.missing_field:rejected": 1,
        "preference.identical": 1,
        "parse.bad_role:robot": 1,
        "parse.bad_prompt": 1,
        "parse.bad_field:chosen": 1,
    }
    kept, _ = sd.split_rejects(parsed)
    encoded = sd.EncodePreference(llama_tokenizer, "llama2", max_length=128)(kept.to_dict())
    assert encoded["drop_reason"] == [None] * 59
