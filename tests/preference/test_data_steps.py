"""Preference rows through the data steps: filters, clean, safety, dedup, stats, the runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import SftDataError
from sftdata._batch import rows_to_batch
from tests.strategies import preference_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def U(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def A(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _pair(prompt: str, chosen: str, rejected: str, **extra: Any) -> dict[str, Any]:
    return {"prompt": [U(prompt)], "chosen": [A(chosen)], "rejected": [A(rejected)], **extra}


# --- the pair filter ----------------------------------------------------------------------


def test_pair_filter_reasons_on_real_looking_pairs() -> None:
    """Each bad pair gets its stable reason; good pairs and carried columns are untouched."""
    rows = [
        _pair("Capital of Peru?", "Lima.", "Cusco.", id=0),
        _pair("Capital of Peru?", "Lima.", " Lima. ", id=1),
        _pair("Capital of Peru?", "   ", "Cusco.", id=2),
        _pair("  ", "Lima.", "Cusco.", id=3),
        _pair("Capital of Peru?", "Lima.", "Cusco.", id=4, score_chosen=8.0, score_rejected=8.0),
        _pair("Capital of Peru?", "Lima, on the coast, is the capital.", "Cusco.", id=5),
        {"prompt": [U("q"), A("a")], "chosen": [A("x")], "rejected": [A("y")], "id": 6},
        {"prompt": [U("q")], "chosen": [U("x")], "rejected": [A("y")], "id": 7},
        _pair("Capital of Peru?", "Lima.", "Cusco.", id=8, drop_reason="clean.upstream"),
    ]
    batch = rows_to_batch(rows)
    out = sd.preference.PairFilter(max_length_ratio=4.0)(batch)
    assert out["drop_reason"] == [
        None,
        "preference.identical",
        "preference.empty",
        "preference.empty",
        "preference.tie",
        "preference.length_ratio",
        "preference.bad_prompt",
        "preference.bad_answer",
        "clean.upstream",
    ]
    assert out["id"] == batch["id"] and out["chosen"] == batch["chosen"]
    no_ratio = sd.preference.PairFilter()(batch)["drop_reason"]
    assert no_ratio[5] is None  # length_ratio is off unless asked


@settings(max_examples=20)
@given(rows=st.lists(preference_rows(max_turns=2), max_size=8), size=st.integers(1, 4))
def test_pair_filter_is_batch_size_invariant(rows: list[dict[str, Any]], size: int) -> None:
    """Any chunking of the batch gives the same reasons as one call on all of it."""
    step = sd.preference.PairFilter(max_length_ratio=2.0)
    batch = {c: [r[c] for r in rows] for c in ("prompt", "chosen", "rejected")}
    whole = step(batch)["drop_reason"]
    parts = [
        step({c: v[i : i + size] for c, v in batch.items()})["drop_reason"]
        for i in range(0, len(rows), size)
    ]
    assert [r for p in parts for r in p] == whole


@pytest.mark.parametrize("ratio", [0.5, "2", float("nan")])
def test_pair_filter_bad_ratio_is_named(ratio: Any) -> None:
    """A bad max_length_ratio raises at construction, naming the option."""
    with pytest.raises(SftDataError, match="max_length_ratio"):
        sd.preference.PairFilter(max_length_ratio=ratio)


# --- clean and safety read all three message columns --------------------------------------


@settings(max_examples=25)
@given(rows=st.lists(preference_rows(max_turns=2), min_size=1, max_size=5))
def test_text_steps_rewrite_each_column_as_they_rewrite_messages(
    rows: list[dict[str, Any]],
) -> None:
    """FixText / PIIFilter on a preference batch == the same step on each column as messages."""
    batch = {c: [r[c] for r in rows] for c in ("prompt", "chosen", "rejected")}
    for step in (sd.clean.FixText(), sd.safety.PIIFilter(reject=())):
        out = step(batch)
        for c in ("prompt", "chosen", "rejected"):
            assert out[c] == step({"messages": batch[c]})["messages"]
        assert "messages" not in out


def test_clean_and_safety_on_real_looking_pairs() -> None:
    """Mojibake in an answer is fixed, an e-mail in a prompt redacted, a secret in a
    rejected answer rejects the pair, a blocked term anywhere rejects it; column= picks one."""
    batch = rows_to_batch(
        [
            _pair("Where is a good café?", "Try the CafÃ© on the corner.", "Nowhere."),
            _pair("Mail jane.doe@example.com a hello.", "Hello Jane!", "No."),
            _pair(
                "Show a config.",
                "Use env vars.",
                "token=ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9",
            ),
            _pair("Plan a night out.", "A concert.", "Visit an online casino."),
        ]
    )
    fixed = sd.clean.FixText()(batch)
    assert fixed["chosen"][0] == [A("Try the Café on the corner.")]
    safe = sd.safety.PIIFilter()(fixed)
    assert safe["prompt"][1] == [U("Mail <EMAIL> a hello.")]
    assert safe["drop_reason"] == [None, None, "pii.secret", None]
    blocked = sd.safety.Blocklist(terms={"spam.casino": ["online casino"]})(safe)
    assert blocked["drop_reason"] == [None, None, "pii.secret", "safety.blocklist:spam.casino"]
    only_chosen = sd.clean.FixText(column="chosen")(batch)
    assert (
        only_chosen["chosen"][0] == fixed["chosen"][0] and only_chosen["prompt"] == batch["prompt"]
    )
    quality = sd.clean.QualityFilter(  # judges the answers of both sides together
        min_words=4, min_stop_words=None, min_alpha_word_frac=None, max_mean_word_length=None
    )
    assert quality(batch)["drop_reason"] == [None, "quality.too_short", None, None]


def test_a_malformed_part_gets_the_steps_own_reason() -> None:
    """A preference row whose part is not a message list is rejected by the text step."""
    batch = {"prompt": ["a string"], "chosen": [[A("x")]], "rejected": [[A("y")]]}
    assert sd.clean.FixText()(batch)["drop_reason"] == ["clean.bad_messages"]
    assert sd.safety.PIIFilter()(batch)["drop_reason"][0].startswith("safety.")


# --- dedup and decontamination by prompt ---------------------------------------------------


def test_dedup_and_decontamination_read_the_prompt() -> None:
    """exact and near dedup of a preference dataset key on the prompt; decontamination
    matches eval questions in prompts."""
    rows = [
        _pair("What is the capital of France?", "Paris.", "Lyon."),
        _pair("What is the capital of France?", "It is Paris.", "Nice."),  # same prompt
        _pair("what is the capital of france ?", "Paris!", "Rome."),  # near copy
        _pair("Name a prime number between ten and twenty please.", "Eleven.", "Twelve."),
    ]
    kept, rejected = sd.dedup.exact_dedup(rows)
    assert [r["drop_reason"] for r in rejected] == ["dedup.exact"] and len(kept) == 3
    kept, rejected = sd.dedup.minhash_dedup(kept, threshold=0.5, ngram=2)
    assert [r["drop_reason"] for r in rejected] == ["dedup.near"]
    evals = {"primes": ["Name a prime number between ten and twenty"]}
    kept, rejected = sd.dedup.decontaminate(rows, evals, ngram=5)
    assert [r["drop_reason"] for r in rejected] == ["dedup.contaminated:primes"]
    by_answer, _ = sd.dedup.exact_dedup(rows, column="chosen")
    assert len(by_answer) == 4


# --- stats ---------------------------------------------------------------------------------


def test_report_compares_chosen_and_rejected_lengths(llama_tokenizer: Any) -> None:
    """report() on pairs: answer lengths per side (tokens with a tokenizer) and the share
    of pairs where chosen is longer; rejected rows are not measured."""
    rows = [
        _pair("q1", "A much longer chosen answer here.", "Short."),
        _pair("q2", "Long chosen answer again.", "No."),
        _pair("q3", "Yes.", "A long rejected answer this time."),
        _pair("q4", "x", "y", drop_reason="preference.tie"),
    ]
    rep = sd.stats.report(rows, tokenizer=llama_tokenizer)
    pairs = rep.to_dict()["preference"]
    assert pairs["unit"] == "tokens" and pairs["pairs"] == 3
    assert pairs["chosen_longer"] == pytest.approx(2 / 3)
    assert pairs["chosen_shorter"] == pytest.approx(1 / 3)
    want = [len(llama_tokenizer("Yes.", add_special_tokens=False)["input_ids"])]
    assert pairs["chosen"]["min"] == min(want)
    assert "chosen longer in 66.7% of 3 pairs" in rep.to_markdown()
    assert rep.roles == {"assistant": 6, "user": 3}
    assert sd.stats.report(rows).preference["unit"] == "chars"  # type: ignore[index]


# --- the runner ----------------------------------------------------------------------------


@pytest.mark.slow
def test_preference_pipeline_example_runs_end_to_end(
    tmp_path: Path, llama_tokenizer_dir: Path
) -> None:
    """examples/pipelines/preference.yaml plus encode_preference: every stage has work to
    do, rows add up, and the output holds the encoded pairs."""
    from sftdata.cli import load_dataset_any
    from sftdata.runner import load_spec, run

    text = (EXAMPLES / "pipelines" / "preference.yaml").read_text()
    text = text.replace("../data/", f"{EXAMPLES / 'data'}/").replace("../../out/", f"{tmp_path}/")
    encode = f"  - encode_preference: {{tokenizer: {llama_tokenizer_dir}, template: llama2, max_length: 256}}\n"
    spec = tmp_path / "preference.yaml"
    spec.write_text(text.replace("output:", encode + "output:", 1))
    result = run(load_spec(spec), progress=False)
    dropped = result.counters.dropped
    assert dropped["preference.length_ratio"] == dropped["dedup.exact"] == 1
    assert dropped["preference.identical"] == 1 and result.counters.kept == 57
    ds = load_dataset_any(tmp_path / "preference" / "data")
    assert len(ds) == 57 and "chosen_labels" in ds.column_names
    for row in ds:
        p = row["prompt_input_ids"]
        assert row["chosen_input_ids"][: len(p)] == p == row["rejected_input_ids"][: len(p)]
    stats = json.loads((tmp_path / "preference" / "report" / "stats.json").read_text())
    assert stats["preference"]["pairs"] == 57


def test_pair_filter_pickles_and_fingerprints_by_its_options() -> None:
    """The step pickles to an equal step; datasets' fingerprint follows its options only."""
    import pickle

    from datasets.fingerprint import Hasher

    step = sd.preference.PairFilter(max_length_ratio=3.0)
    assert pickle.loads(pickle.dumps(step)) == step
    assert Hasher.hash(step) == Hasher.hash(sd.preference.PairFilter(max_length_ratio=3.0))
    assert Hasher.hash(step) != Hasher.hash(sd.preference.PairFilter())
