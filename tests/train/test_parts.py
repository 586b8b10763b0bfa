"""The small pieces the trainer adds: token meter, checkpoint markers, data preparation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import Collator

rows_st = st.lists(
    st.lists(st.integers(3, 500), min_size=1, max_size=20).flatmap(
        lambda ids: st.tuples(
            st.just(ids), st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))
        )
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=50)
@given(rows_st)
def test_meter_counts_real_tokens_loss_tokens_and_fill(rows: list[Any]) -> None:
    """Property: the meter counts every real token once, loss tokens by label, fill = real/slots."""
    from sfttrain._trainer import MeteredCollator, TokenMeter

    feats = [
        {
            "input_ids": ids,
            "labels": [t if keep else -100 for t, keep in zip(ids, mask, strict=True)],
        }
        for ids, mask in rows
    ]
    meter = TokenMeter()
    batch = MeteredCollator(Collator(0), meter)(feats)
    assert meter.tokens == sum(len(ids) for ids, _ in rows)
    assert meter.loss_tokens == sum(sum(mask) for _, mask in rows)
    assert meter.slots == len(rows) * max(len(ids) for ids, _ in rows) == batch["input_ids"].numel()


def test_resume_auto_picks_newest_complete_checkpoint(tmp_path: Path) -> None:
    """Property: `auto` takes the highest step holding the marker; unmarked folders are skipped."""
    from sfttrain._trainer import COMPLETE_MARKER, complete_checkpoints, resume_from, write_atomic

    assert resume_from("auto", tmp_path / "missing") is None
    for step in (2, 10, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (2, 4):
        write_atomic(tmp_path / f"checkpoint-{step}" / COMPLETE_MARKER, json.dumps({"step": step}))
    (tmp_path / "checkpoint-x").mkdir()
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-4"]
    assert resume_from("auto", tmp_path) == str(tmp_path / "checkpoint-4")
    assert resume_from("never", tmp_path) is None
    with pytest.raises(FileNotFoundError, match="not a complete sfttrain checkpoint"):
        resume_from(str(tmp_path / "checkpoint-10"), tmp_path)
    assert not list(tmp_path.glob("**/.*tmp*"))  # atomic writes leave no temporary files


@pytest.mark.slow
def test_prepare_from_config_parses_filters_encodes_and_packs(
    tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: config-driven prep keeps counts consistent and packs within max_length."""
    import sftdata as sd
    from sfttrain import TrainConfig, prepare

    data = Path(__file__).parents[2] / "examples" / "data"
    cfg = TrainConfig.from_dict(
        {
            "model": "unused",
            "output_dir": str(tmp_path),
            "train_files": [
                {"path": str(data / "chat_openai.jsonl"), "parser": "openai"},
                {"path": str(data / "chat_alpaca.jsonl"), "parser": "alpaca"},
            ],
            "eval_files": [str(data / "heldout.jsonl")],
            "pipeline": ["clean.FixText", {"step": "safety.PIIFilter"}],
            "dedup": "exact",
            "max_length": 128,
            "template": "llama2",
        }
    )
    out = prepare(cfg, tiny_tokenizer, sd.templates.get("llama2"))
    c = out.counts
    assert c["read"] >= c["parsed"] >= c["pipeline"] >= c["dedup"] >= c["encoded"] > 0
    assert c["read"] > c["parsed"] and c["parsed"] > c["pipeline"] and c["pipeline"] > c["dedup"]
    assert set(out.train.column_names) >= {"input_ids", "labels", "position_ids", "seq_lens"}
    assert all(len(x) <= 128 for x in out.train["input_ids"])
    assert sum(sum(s) for s in out.train["seq_lens"]) == sum(len(x) for x in out.train["input_ids"])
    assert out.pack_efficiency is not None and 0.5 < out.pack_efficiency <= 1.0
    assert out.eval is not None and len(out.eval) == 4
    # every row read is trained on or counted under the reason it was dropped for
    assert c["read"] == c["encoded"] + sum(out.dropped.values())
    assert out.dropped["dedup.exact"] == c["pipeline"] - c["dedup"]


def test_no_training_row_left_is_a_clear_error(tiny_tokenizer: Any, tmp_path: Path) -> None:
    """Every row too long for max_length: prepare says so instead of training on nothing."""
    import sftdata as sd
    from sfttrain import ConfigError, TrainConfig, prepare

    data = Path(__file__).parents[2] / "examples" / "data"
    cfg = TrainConfig.from_dict(
        {
            "model": "unused",
            "output_dir": str(tmp_path),
            "train_files": [{"path": str(data / "chat_openai.jsonl"), "parser": "openai"}],
            "max_length": 4,
            "packing": False,
            "template": "llama2",
        }
    )
    with pytest.raises(ConfigError, match=r"no training rows left: .*encode\.too_long"):
        prepare(cfg, tiny_tokenizer, sd.templates.get("llama2"))


def test_unknown_parser_and_step_are_named() -> None:
    """Property: a parser or pipeline step that sftdata lacks is reported with the choices."""
    from sfttrain import ConfigError
    from sfttrain._data import parser_step, resolve_step

    with pytest.raises(ConfigError, match=r"parser: got 'alpacca'; allowed: .*alpaca"):
        parser_step("alpacca")
    with pytest.raises(ConfigError, match=r"pipeline\[2\]: no sftdata step 'clean.Nope'"):
        resolve_step("clean.Nope", 2)
    with pytest.raises(ConfigError, match=r"pipeline\[0\] \(clean.FixText\)"):
        resolve_step({"step": "clean.FixText", "no_such_option": 1}, 0)


def test_unreadable_lines_are_rejected_rows_with_the_runners_reasons(tmp_path: Path) -> None:
    """sfttrain reads a JSONL file like `sftdata run` does: a bad line is a rejected row."""
    from sfttrain import ConfigError
    from sfttrain._data import parse_file

    good = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    )
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join([good.encode(), b'{"messages": [', b"[1, 2]", b"\xff\xfe", b""]))
    ds = parse_file(str(path), None)
    assert sorted(r or "kept" for r in ds["drop_reason"]) == [
        "input.bad_json",
        "input.bad_utf8",
        "input.not_an_object",
        "kept",
    ]
    listed = tmp_path / "rows.json"
    listed.write_text(f"[{good}, 3]")
    assert parse_file(str(listed), None)["drop_reason"] == [None, "input.not_an_object"]
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(ConfigError, match=r"broken\.json: not a readable JSON file"):
        parse_file(str(broken), None)
