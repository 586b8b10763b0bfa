"""check_tokenizer / `sftdata doctor`: one line per check, the fix, a failing exit status."""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

import sftdata as sd
from sftdata import templates
from sftdata.cli import main


@pytest.fixture(scope="module")
def exact(sp_fast_tokenizer: Any) -> Any:
    """A fast tokenizer equal to sentencepiece, with a pad token distinct from EOS."""
    tok = copy.deepcopy(sp_fast_tokenizer)
    tok.pad_token = "<unk>"
    return tok


@pytest.fixture(scope="module")
def trap_dir(tmp_path_factory: pytest.TempPathFactory, sp_model_path: Path) -> Path:
    """A converted-weights folder: tokenizer.model and a config naming LlamaTokenizer."""
    d = tmp_path_factory.mktemp("trap")
    shutil.copy(sp_model_path, d / "tokenizer.model")
    (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    return d


def test_llama_tokenizer_from_bare_model_fails_naming_the_probe(llama_tokenizer: Any) -> None:
    """Example: the whitespace-merge trap fails the sentencepiece check on 'indentation'."""
    report = templates.check_tokenizer(llama_tokenizer)  # LlamaTokenizer(tokenizer.model)
    check = report["sentencepiece"]
    assert check.status == "fail" and not report.ok
    assert "'indentation'" in check.message and "▁▁▁▁ return" in check.message
    assert "▁▁▁ ▁return" in check.message and "fast_from_sentencepiece" in check.fix


def test_exact_tokenizer_passes_every_check(exact: Any, sp_model_path: Path) -> None:
    """Example: the rebuilt tokenizer with its own template as chat_template: all ok."""
    tok = copy.deepcopy(exact)
    tok.chat_template = templates.get("zephyr").to_jinja()  # renders no BOS: no double
    report = templates.check_tokenizer(tok, "zephyr", sentencepiece_model=sp_model_path)
    assert [c.status for c in report.checks] == ["ok"] * len(report.checks), str(report)
    assert report["sentencepiece"].message.startswith("same ids as")
    assert len(str(report).splitlines()) == len(report.checks)


def test_pad_and_special_token_checks(exact: Any) -> None:
    """Example: no pad and pad == eos are warnings that say what happens to masks."""
    tok = copy.deepcopy(exact)
    tok.pad_token = None
    assert templates.check_tokenizer(tok)["pad"].status == "warn"
    tok.pad_token = tok.eos_token
    pad = templates.check_tokenizer(tok)["pad"]
    assert pad.status == "warn" and "never learns to stop" in pad.message
    tok.eos_token = None
    assert templates.check_tokenizer(tok)["eos"].status == "fail"


def test_double_bos_from_own_chat_template(exact: Any) -> None:
    """Example: a chat_template writing BOS, tokenized with the tokenizer's own BOS: warned."""
    tok = copy.deepcopy(exact)
    tok.chat_template = templates.get("llama2").to_jinja()  # renders "<s>[INST] ..."
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert tok(text)["input_ids"][:2] == [tok.bos_token_id] * 2  # the double BOS is real
    check = templates.check_tokenizer(tok)["double_bos"]
    assert check.status == "warn" and "add_special_tokens=False" in check.fix
    tok.chat_template = templates.get("chatml").to_jinja()  # no BOS in the render
    assert templates.check_tokenizer(tok)["double_bos"].status == "ok"


def test_chat_template_render_compared_with_template(exact: Any) -> None:
    """Example: the tokenizer's chat_template rendering another format is named, with where."""
    tok = copy.deepcopy(exact)
    tok.chat_template = templates.get("zephyr").to_jinja()
    check = templates.check_tokenizer(tok, "llama2")["chat_template"]
    assert check.status == "warn" and "differ at char" in check.message
    assert templates.check_tokenizer(tok, "zephyr")["chat_template"].status == "ok"


def test_template_tokens_and_added_tokens(exact: Any) -> None:
    """Example: missing control tokens fail; added tokens not marked special warn."""
    tok = copy.deepcopy(exact)
    report = templates.check_tokenizer(tok, "chatml")
    assert (
        report["control_tokens"].status == "fail"
        and "<|im_start|>" in report["control_tokens"].message
    )
    assert report["template_eos"].status == "warn"  # answers end with <|im_end|>, EOS is </s>
    tok.add_tokens(["<|im_start|>", "<|im_end|>"])  # added, but not as special tokens
    report = templates.check_tokenizer(tok, "chatml")
    assert report["control_tokens"].status == "ok"
    assert (
        report["added_tokens"].status == "warn" and "<|im_end|>" in report["added_tokens"].message
    )


@pytest.mark.slow
def test_cli_doctor_exit_status_and_fix(
    trap_dir: Path, exact: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Example: `sftdata doctor` exits 1 on the trap, 0 once rebuilt with the one-call fix."""
    assert main(["doctor", "--tokenizer", str(trap_dir), "--template", "llama2"]) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("fail  sentencepiece:") for line in out.splitlines())
    fixed = tmp_path / "fixed"
    shutil.copytree(trap_dir, fixed)
    tok = copy.deepcopy(exact)  # == fast_from_sentencepiece(fixed / "tokenizer.model")
    tok.chat_template = templates.get("llama2").to_jinja()
    tok.save_pretrained(str(fixed))
    assert main(["doctor", "--tokenizer", str(fixed), "--template", "llama2"]) == 0
    out = capsys.readouterr().out
    assert "ok    sentencepiece: same ids as tokenizer.model" in out
    assert main(["doctor", "--tokenizer", str(fixed), "--template", "nope"]) == 2


@pytest.mark.slow
def test_encode_warns_once_per_tokenizer(llama_tokenizer: Any, exact: Any) -> None:
    """Example: sd.Encode warns once for a tokenizer unlike its sentencepiece model, not per
    batch or step; never for an exact one."""
    from sftdata import _sentencepiece

    tok = copy.deepcopy(llama_tokenizer)  # a tokenizer no other test has encoded with
    assert _sentencepiece.sentencepiece_path(tok) is not None
    chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            step = sd.Encode(tok, "llama2", max_length=64)
            step({"messages": [chat, chat]})
        sd.encode(chat, tok, "llama2", max_length=32)
    mine = [w for w in seen if "sentencepiece" in str(w.message)]
    assert len(mine) == 1 and "fast_from_sentencepiece" in str(mine[0].message)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sd.Encode(exact, "llama2", max_length=64)({"messages": [chat]})
    assert not [w for w in seen if "sentencepiece" in str(w.message)]
