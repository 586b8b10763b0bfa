"""Examples: our renders equal rendered texts that a third party published.

The expected strings are the outputs that llama.cpp's chat-template test
(``ggml-org/llama.cpp``, ``tests/test-chat-template.cpp``) expects from the official
templates on its fixed conversation, with ``add_generation_prompt`` and an empty BOS
token. They were written by llama.cpp's authors, not derived from our code, so they
check our templates independently of the jinja fixtures in
``tests/fixtures/templates/published_chat_templates.json``.
"""

from __future__ import annotations

import pytest

from sftdata import templates

#: llama.cpp's test conversation (note the padded assistant answer).
_CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you"},
    {"role": "assistant", "content": "   I am an assistant   "},
    {"role": "user", "content": "Another question"},
]

#: (our template, llama.cpp test case it was published for, expected text without BOS).
_PUBLISHED = [
    (
        "chatml",
        "teknium/OpenHermes-2.5-Mistral-7B",
        "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
        "<|im_start|>user\nWho are you<|im_end|>\n"
        "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
        "<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n",
    ),
    (
        "llama3",
        "Llama-3",
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        "phi3",
        "Phi-3-small",
        "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
        "<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n"
        "<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n"
        "<|assistant|>\n",
    ),
]


@pytest.mark.parametrize(("name", "case", "expected"), _PUBLISHED)
def test_render_equals_llama_cpp_expected_output(name: str, case: str, expected: str) -> None:
    """Example: render(conversation, generation prompt) == BOS + llama.cpp's expected
    text for the same format (its test case ``case``)."""
    template = templates.get(name)
    rendered = template.render(_CONVERSATION, add_generation_prompt=True)
    assert rendered == template.bos + expected, case
