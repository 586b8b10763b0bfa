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


def make_bpe_chatml_tokenizer() -> Any:
    """A small byte-level BPE tokenizer (the Qwen/GPT-2 kind), trained here, with ChatML tokens.

    Byte-level BPE has no sentencepiece dummy prefix, so tokenizing each piece on its
    own and tokenizing the whole rendered string agree: the case where transformers'
    ``apply_chat_template`` is the reference for a jinja family.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "Hello there, how are you doing today? I am fine.\nThanks for asking!",
        "The quick brown fox jumps over the lazy dog; user and assistant take turns.",
    ]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(corpus * 20, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    tok.chat_template = CHATML_JINJA
    return tok


@pytest.fixture(scope="session")
def bpe_chatml_tokenizer() -> Any:
    return make_bpe_chatml_tokenizer()
