"""fast_from_sentencepiece: a fast tokenizer whose ids equal sentencepiece's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import SftDataError
from sftdata.tokenize import fast_from_sentencepiece
from tests.strategies import plain_text, whitespace_only, words

INDENTED = "\n    return"


@pytest.fixture(scope="module")
def sp(sp_model_path: Path) -> Any:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(sp_model_path))


@pytest.fixture(scope="module")
def fast(sp_fast_tokenizer: Any) -> Any:
    return sp_fast_tokenizer


_code = st.lists(
    st.tuples(st.integers(0, 12), st.sampled_from(["return", "x = 1", "if y:", "", "\t#"])),
    max_size=5,
).map(lambda lines: "\n".join(" " * n + s for n, s in lines))
_any_text = st.one_of(plain_text, words, whitespace_only, _code, st.text(max_size=40))


@settings(max_examples=100)
@given(text=_any_text)
def test_ids_equal_sentencepiece(text: str, fast: Any, sp: Any) -> None:
    """Property: fast_from_sentencepiece(model).encode(text) == sentencepiece encode(text)."""
    assert fast.encode(text, add_special_tokens=False) == sp.encode(text)


def test_whitespace_runs_follow_sentencepiece_not_piece_ids(
    fast: Any, sp: Any, sp_model_path: Path, tmp_path: Path
) -> None:
    """Example: the known trap (LlamaTokenizer from a bare tokenizer.model) and the fix."""
    from transformers import LlamaTokenizer

    shutil.copy(sp_model_path, tmp_path / "tokenizer.model")
    trap = LlamaTokenizer.from_pretrained(str(tmp_path))
    pieces = trap.convert_ids_to_tokens(trap.encode(INDENTED, add_special_tokens=False))
    assert pieces[-2:] == ["▁▁▁▁", "return"]  # the trap is real in this transformers
    ours = fast.convert_ids_to_tokens(fast.encode(INDENTED, add_special_tokens=False))
    assert ours == [sp.id_to_piece(i) for i in sp.encode(INDENTED)]
    assert ours[-2:] == ["▁▁▁", "▁return"]
    for n in range(1, 33):  # every run length, alone and before a word
        for text in (" " * n, "a" + " " * n + "b", "\n" + " " * n + "return"):
            assert fast.encode(text, add_special_tokens=False) == sp.encode(text), repr(text)


@pytest.mark.slow
def test_special_tokens_bos_and_decode(fast: Any, sp_model_path: Path) -> None:
    """Example: BOS prepended as by LLaMA tokenizers; decode inverts; tokens overridable."""
    assert fast("hi")["input_ids"] == [
        fast.bos_token_id,
        *fast.encode("hi", add_special_tokens=False),
    ]
    assert (fast.bos_token, fast.eos_token, fast.unk_token) == ("<s>", "</s>", "<unk>")
    assert fast.decode(fast.encode("  two  spaces\n\tand tab"), skip_special_tokens=True) == (
        "  two  spaces\n\tand tab"
    )
    chat = fast_from_sentencepiece(sp_model_path, eos_token="<|im_end|>", pad_token="<unk>")
    assert chat.eos_token == "<|im_end|>" and chat.eos_token_id == 32000
    assert chat.pad_token_id == 0
    assert chat.encode("a<|im_end|>", add_special_tokens=False)[-1] == 32000


def test_not_a_model_is_refused(tmp_path: Path) -> None:
    """Example: a missing or non-model file raises SftDataError naming the path."""
    with pytest.raises(SftDataError, match="no sentencepiece model"):
        fast_from_sentencepiece(tmp_path / "missing.model")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\xff\xfe not a protobuf")
    with pytest.raises(SftDataError, match=r"bad\.model"):
        fast_from_sentencepiece(bad)
