"""The user's tokenizer is never changed, and a changed tokenizer is always noticed.

sftdata tokenizes template pieces with private copies of the tokenizer's Rust backend
(see ``sftdata._tokenizer_copies``). These tests change a real tokenizer in the ways
users do (normalizer, added tokens, special flags, a custom Python component) and
share one between threads; every result must equal what the tokenizer gives now.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from pathlib import Path
from typing import Any

import pytest

import sftdata as sd
from sftdata.templates import token_ids

MSGS = [
    {"role": "user", "content": "Say Othello chellos"},
    {"role": "assistant", "content": "call <tool> now, Hello"},
]


def _fresh(llama_tokenizer: Any) -> Any:
    return copy.deepcopy(llama_tokenizer)


def _all_agree(tok: Any, template: str = "llama2") -> list[int]:
    """Encode (a new step), encode() (its kept steps) and token_ids agree; the ids."""
    want = token_ids(sd.templates.get(template).segments(MSGS), tok)
    assert (
        sd.Encode(tok, template, max_length=512)({"messages": [MSGS]})["input_ids"][0].tolist()
        == want
    )
    assert sd.encode(MSGS, tok, template, max_length=512)["input_ids"].tolist() == want
    return want


def test_a_new_normalizer_is_noticed(llama_tokenizer: Any) -> None:
    from tokenizers import normalizers

    tok = _fresh(llama_tokenizer)
    before = _all_agree(tok)
    tok.backend_tokenizer.normalizer = normalizers.Lowercase()
    after = _all_agree(tok)
    assert after != before


def test_adding_a_token_already_in_the_vocabulary_is_noticed(llama_tokenizer: Any) -> None:
    tok = _fresh(llama_tokenizer)
    before = _all_agree(tok)
    size = len(tok)
    tok.add_tokens(["hello"])  # already a vocabulary entry: len(tok) does not move
    assert len(tok) == size
    after = _all_agree(tok)
    assert after != before and after.count(tok.convert_tokens_to_ids("hello")) >= 2


def test_a_token_made_special_later_stays_text_in_content(llama_tokenizer: Any) -> None:
    tok = _fresh(llama_tokenizer)
    tok.add_tokens(["<tool>"])
    _all_agree(tok)
    tok.add_special_tokens({"additional_special_tokens": ["<tool>"]})
    after = _all_agree(tok)
    assert tok.convert_tokens_to_ids("<tool>") not in after  # content never becomes control


def test_a_custom_python_normalizer_takes_the_public_path(llama_tokenizer: Any) -> None:
    from tokenizers import NormalizedString, normalizers

    class Upper:
        def normalize(self, normalized: NormalizedString) -> None:
            normalized.uppercase()

    tok = _fresh(llama_tokenizer)
    tok.backend_tokenizer.normalizer = normalizers.Normalizer.custom(Upper())
    ids = _all_agree(tok)
    assert ids != _all_agree(_fresh(llama_tokenizer))


def test_token_ids_and_encode_leave_the_tokenizer_as_it_was(llama_tokenizer_dir: Path) -> None:
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    backend = tok.backend_tokenizer
    before = (backend.pre_tokenizer.__getstate__(), backend.encode_special_tokens)
    eos = backend.encode("</s>", add_special_tokens=False).ids
    for template in ("chatml", "llama2"):
        _all_agree(tok, template)
    assert (backend.pre_tokenizer.__getstate__(), backend.encode_special_tokens) == before
    assert backend.encode("</s>", add_special_tokens=False).ids == eos == [tok.eos_token_id]


def test_threads_mixing_token_ids_and_encode_all_get_the_right_ids(
    llama_tokenizer_dir: Path,
) -> None:
    """llama2 pieces start calls (prefix on), chatml pieces continue them (prefix off):
    on one legacy=False tokenizer, in three threads at once, every result is right."""
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    rows = [
        [{"role": "user", "content": f"q{i} " * 20}, {"role": "assistant", "content": f"a{i}"}]
        for i in range(100)
    ]
    want = {
        name: [token_ids(sd.templates.get(name).segments(r), tok) for r in rows]
        for name in ("llama2", "chatml")
    }
    wrong: list[int] = []

    def by_reference(name: str) -> None:
        for _ in range(3):
            got = [token_ids(sd.templates.get(name).segments(r), tok) for r in rows]
            wrong.append(sum(a != b for a, b in zip(got, want[name], strict=True)))

    def by_step(name: str) -> None:
        step = sd.Encode(tok, name, max_length=4096)
        for _ in range(3):
            got = [x.tolist() for x in step({"messages": rows})["input_ids"]]
            wrong.append(sum(a != b for a, b in zip(got, want[name], strict=True)))

    jobs = [(by_reference, "llama2"), (by_reference, "chatml"), (by_step, "llama2")]
    threads = [threading.Thread(target=f, args=(name,)) for f, name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wrong) == 9 and sum(wrong) == 0


@pytest.mark.parametrize(("first", "then"), [(64, 64.0), (1, True)])
def test_encode_checks_its_arguments_even_when_an_equal_step_is_kept(
    first: Any, then: Any, llama_tokenizer: Any
) -> None:
    with contextlib.suppress(sd.RowError):  # max_length=1 is too short for the row
        sd.encode(MSGS, llama_tokenizer, "llama2", max_length=first)
    with pytest.raises(sd.SftDataError, match="max_length must be a positive int"):
        sd.encode(MSGS, llama_tokenizer, "llama2", max_length=then)
