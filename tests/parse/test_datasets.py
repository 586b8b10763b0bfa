"""Parser steps inside real ``datasets``: batch sizes, pickling, fingerprints, cache hits."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from datasets.fingerprint import Hasher

import sftdata as sd
from tests.parse._helpers import kept_output_ok, load_fixture

# (fixture, step): every step on a fixture it can read, mixing kept and rejected rows.
CASES = [
    ("oasst1.jsonl", sd.parse.Oasst1()),
    ("alpaca.jsonl", sd.parse.Alpaca()),
    ("alpaca.jsonl", sd.parse.Alpaca(instances="expand")),
    ("dolly.jsonl", sd.parse.Dolly(keep=("id", "category"))),
    ("sharegpt.json", sd.parse.ShareGPT()),
    ("openai.jsonl", sd.parse.OpenAI()),
    ("openai_parts.jsonl", sd.parse.OpenAI(part_separator=" ")),
    ("xtuner.jsonl", sd.parse.XTuner()),
    ("preference.jsonl", sd.parse.Preference()),
    ("preference_chat.jsonl", sd.parse.Preference()),
    ("preference_hh.jsonl", sd.parse.AnthropicHH()),
    ("preference_ultrafeedback.jsonl", sd.parse.UltraFeedback(binarize="best_vs_random", seed=1)),
]
IDS = [f"{type(step).__name__}-{name}" for name, step in CASES]


def _map(ds, step, **kwargs):
    return ds.map(
        step,
        batched=True,
        remove_columns=ds.column_names,
        features=step.features(ds.features),
        **kwargs,
    )


@pytest.mark.parametrize(("fixture", "step"), CASES, ids=IDS)
def test_map_is_batch_size_invariant_and_conserves_rows(fixture, step):
    """ds.map gives the same rows at batch_size 1, 7 and 1000, and kept + rejected == rows out."""
    ds = load_fixture(fixture)
    runs = [_map(ds, step, batch_size=bs, load_from_cache_file=False) for bs in (1, 7, 1000)]
    assert runs[0].to_list() == runs[1].to_list() == runs[2].to_list()
    out = runs[0]
    kept, rejected = sd.split_rejects(out)
    assert len(kept) + len(rejected) == len(out) >= len(ds)
    assert len(kept) > 0 and len(rejected) > 0  # each fixture mixes both
    assert all(r.startswith(("parse.", "preference.")) for r in rejected["drop_reason"])
    assert all(isinstance(r, str) and json.loads(r) for r in rejected["raw"])
    assert all(r is None for r in kept["raw"])
    for column in step.OUTPUTS:
        for value in kept[column]:
            assert kept_output_ok(column, value)


@pytest.mark.parametrize(("fixture", "step"), CASES, ids=IDS)
def test_step_survives_pickling_with_the_same_fingerprint(fixture, step):
    """A pickled and restored step equals the original, hashes the same and maps the same."""
    again = pickle.loads(pickle.dumps(step))
    assert again == step and Hasher.hash(again) == Hasher.hash(step)
    rows = load_fixture(fixture).to_dict()
    assert again(rows) == step(rows)


_CHILD = """
import json, sys
import datasets
from datasets.fingerprint import Hasher
import sftdata as sd
out = {}
for path, spec in json.loads(sys.argv[1]):
    step = eval(spec, vars(sd.parse))  # the dataclass repr rebuilds the step
    ds = datasets.load_from_disk(path)
    mapped = ds.map(step, batched=True, remove_columns=ds.column_names,
                    features=step.features(ds.features))
    out[spec + path] = [Hasher.hash(step), mapped._fingerprint, mapped.cache_files[0]["filename"]]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_fingerprint_is_stable_across_processes_and_a_second_map_is_a_cache_hit(tmp_path: Path):
    """Another process hashes every step alike, and mapping again here reuses its cache file untouched."""
    jobs = []
    for i, (fixture, step) in enumerate(CASES):
        path = tmp_path / f"ds{i}"
        load_fixture(fixture).save_to_disk(str(path))
        jobs.append((str(path), repr(step)))
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(jobs)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    theirs = json.loads(child.stdout.strip().splitlines()[-1])
    import datasets

    for (path, spec), (_, step) in zip(jobs, CASES, strict=True):
        their_hash, their_fingerprint, their_file = theirs[spec + path]
        before = os.stat(their_file).st_mtime_ns
        mapped = _map(datasets.load_from_disk(path), step)
        assert Hasher.hash(step) == their_hash
        assert mapped._fingerprint == their_fingerprint
        assert mapped.cache_files[0]["filename"] == their_file
        assert os.stat(their_file).st_mtime_ns == before  # read from cache, not rewritten


def test_wrong_parser_for_the_columns_fails_at_once_naming_them():
    ds = load_fixture("sharegpt.json")
    with pytest.raises(sd.SftDataError, match=r"Alpaca needs column\(s\) \['instruction'\]"):
        _map(ds, sd.parse.Alpaca())


def test_xtuner_rows_survive_a_round_trip_through_arrow():
    """XTuner then ToXTuner on a real dataset gives back the kept rows' conversations."""
    ds = load_fixture("xtuner.jsonl")
    parsed = _map(ds, sd.parse.XTuner())
    back_step = sd.parse.ToXTuner()
    back = parsed.map(
        back_step,
        batched=True,
        remove_columns=["messages"],
        features=back_step.features(parsed.features),
    )
    assert back.column_names == ["drop_reason", "raw", "id", "conversation"]
    for original, row in zip(ds, back, strict=True):
        if row["drop_reason"] is None:
            turns = [{k: v for k, v in t.items() if v is not None} for t in row["conversation"]]
            assert turns == original["conversation"]
        else:
            assert row["conversation"] == []


def test_step_options_are_keyword_only():
    with pytest.raises(TypeError):
        sd.parse.Alpaca("first")  # type: ignore[misc]
    assert sd.parse.Alpaca(instances="first").instances == "first"
