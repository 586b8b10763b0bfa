"""Exactness: our templates tokenize to the ids of oracles no one here wrote.

- llama2: Meta's reference (``llama/generation.py`` ``chat_completion``): every
  user/assistant pair is ``[BOS] + sp.encode(f"[INST] {user.strip()} [/INST] {answer.strip()} ")
  + [EOS]``, the system prompt folded into the first user message as
  ``<<SYS>>\\n{system}\\n<</SYS>>\\n\\n``; a trailing user message is
  ``[BOS] + sp.encode(f"[INST] {user.strip()} [/INST]")``. Encoded with sentencepiece.
- mistral: ``mistral_common``'s ``encode_chat_completion`` on ``tokenizer.model.v1`` in
  ``finetuning`` validation mode (which accepts a final assistant message and appends
  its EOS, exactly what training needs).
- jinja families: ``tokenizer.apply_chat_template`` with the published template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sftdata import templates
from tests import strategies as S
from tests.templates.conftest import published

_SP: dict[str, Any] = {}


def _sp(path: Path) -> Any:
    if "sp" not in _SP:
        _SP["sp"] = spm.SentencePieceProcessor(model_file=str(path))
    return _SP["sp"]


def meta_llama2_ids(sp: Any, messages: list[dict[str, str]]) -> list[int]:
    """Meta's Llama-2-chat encoding, written from its published reference code."""
    b_inst, e_inst = "[INST]", "[/INST]"
    b_sys, e_sys = "<<SYS>>\n", "\n<</SYS>>\n\n"
    if messages[0]["role"] == "system":
        first = b_sys + messages[0]["content"] + e_sys + messages[1]["content"]
        messages = [{"role": messages[1]["role"], "content": first}, *messages[2:]]
    ids: list[int] = []
    for prompt, answer in zip(messages[::2], messages[1::2], strict=False):
        text = f"{b_inst} {prompt['content'].strip()} {e_inst} {answer['content'].strip()} "
        ids += [sp.bos_id(), *sp.encode(text), sp.eos_id()]
    if len(messages) % 2 == 1:
        ids += [sp.bos_id(), *sp.encode(f"{b_inst} {messages[-1]['content'].strip()} {e_inst}")]
    return ids


@pytest.mark.slow
@settings(max_examples=25)
@given(conv=S.conversations(), prompt_only=st.booleans())
def test_llama2_ids_equal_meta_reference(
    conv: list[dict[str, str]], prompt_only: bool, sp_tokenizer: Any, sp_model_path: Path
) -> None:
    """Property: llama2 token_ids == Meta's per-pair sentencepiece reference, any content."""
    if prompt_only:
        conv = conv[:-1]
    ours = templates.token_ids(templates.get("llama2").segments(conv), sp_tokenizer)
    assert ours == meta_llama2_ids(_sp(sp_model_path), conv)


@pytest.mark.slow
@settings(max_examples=25)
@given(conv=S.conversations(text=S.words))
def test_llama2_ids_with_fast_tokenizer_on_single_spaced_text(
    conv: list[dict[str, str]], llama_tokenizer: Any, sp_model_path: Path
) -> None:
    """Property: with the converted fast tokenizer, llama2 ids == Meta reference on
    single-spaced text (the fast tokenizer itself differs from sentencepiece on runs of
    spaces, e.g. "a  b", whatever the template)."""
    ours = templates.token_ids(templates.get("llama2").segments(conv), llama_tokenizer)
    assert ours == meta_llama2_ids(_sp(sp_model_path), conv)


def _mistral_reference(path: Path, conv: list[dict[str, str]]) -> list[int]:
    from mistral_common.protocol.instruct.messages import (
        AssistantMessage,
        SystemMessage,
        UserMessage,
    )
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    if "mistral" not in _SP:
        _SP["mistral"] = MistralTokenizer.from_file(str(path), mode=ValidationMode.finetuning)
    kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
    msgs = [kinds[m["role"]](content=m["content"]) for m in conv]
    request = ChatCompletionRequest(messages=msgs)  # type: ignore[arg-type]
    return list(_SP["mistral"].encode_chat_completion(request).tokens)


#: mistral_common refuses an empty assistant message, so every content here is non-empty.
_mistral_text = st.one_of(S.words, S.control_text, S.plain_text.filter(bool), S.whitespace_only)


@pytest.mark.slow
@settings(max_examples=30)
@given(conv=S.conversations(text=_mistral_text))
def test_mistral_ids_equal_mistral_common(
    conv: list[dict[str, str]], sp_tokenizer: Any, sp_model_path: Path
) -> None:
    """Property: mistral token_ids == mistral_common encode_chat_completion (v1)."""
    ours = templates.token_ids(templates.get("mistral").segments(conv), sp_tokenizer)
    assert ours == _mistral_reference(sp_model_path, conv)


def test_mistral_empty_system_is_dropped_like_mistral_common(
    sp_tokenizer: Any, sp_model_path: Path
) -> None:
    """Example: an empty system prompt adds nothing, as in mistral_common."""
    conv = [
        {"role": "system", "content": ""},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]
    ours = templates.token_ids(templates.get("mistral").segments(conv), sp_tokenizer)
    assert ours == _mistral_reference(sp_model_path, conv)
    assert templates.get("mistral").spans(conv)[0] is None


#: Content without control-token lookalikes: apply_chat_template tokenizes the whole
#: string and would read "<|im_end|>" inside content as a control token; we never do.
_plain = st.one_of(S.words, S.plain_text, S.whitespace_only, st.just(""))
_FAMILIES = sorted(published())


@pytest.mark.parametrize("name", _FAMILIES)
@settings(max_examples=15)
@given(data=st.data())
def test_jinja_family_ids_equal_apply_chat_template(
    name: str, data: st.DataObject, family_tokenizers: dict[str, Any]
) -> None:
    """Property: token_ids(get(name)) == apply_chat_template(published template), both
    with and without the generation prompt."""
    tok = family_tokenizers[name]
    conv = data.draw(S.conversations(text=_plain, system=False if name == "gemma" else None))
    specials = [t for t in tok.all_special_tokens if t]
    assume(not any(t in m["content"] for m in conv for t in specials))
    gen = data.draw(st.booleans())
    if gen:
        conv = conv[:-1]
    ref = tok.apply_chat_template(conv, tokenize=True, add_generation_prompt=gen)["input_ids"]
    segs = templates.get(name).segments(conv, add_generation_prompt=gen)
    assert templates.token_ids(segs, tok) == list(ref)


def test_control_lookalike_content_stays_text(family_tokenizers: dict[str, Any]) -> None:
    """Example: content "<|im_end|>" is tokenized as text, never as the control token."""
    tok = family_tokenizers["chatml"]
    conv = [{"role": "user", "content": "<|im_end|>"}, {"role": "assistant", "content": "ok"}]
    ids = templates.token_ids(templates.get("chatml").segments(conv), tok)
    end = tok.convert_tokens_to_ids("<|im_end|>")
    assert ids.count(end) == 2  # the two the template emits
    assert tok.apply_chat_template(conv, tokenize=True)["input_ids"].count(end) == 3
