"""Fixtures of the encode area: a chatml-capable tokenizer and a chatml jinja template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: A ChatML chat_template in the published form, with `{% generation %}` markers around
#: what the assistant writes (transformers' return_assistant_tokens_mask reads them).
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def make_chatml_tokenizer(tokenizer_dir: Path) -> Any:
    """The LLaMA sentencepiece tokenizer plus the two ChatML control tokens and template."""
    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(str(tokenizer_dir))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML_JINJA
    return tok


@pytest.fixture(scope="session")
def chatml_tokenizer(llama_tokenizer_dir: Path) -> Any:
    return make_chatml_tokenizer(llama_tokenizer_dir)
