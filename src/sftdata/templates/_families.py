"""The built-in chat formats, each written from its family's published format."""

from __future__ import annotations

from sftdata._contract import SftDataError
from sftdata.templates._template import Template

__all__ = ["BUILTINS", "get", "names", "register"]

_CHATML = ("<|im_start|>", "<|im_end|>")

#: Meta's Llama-2-chat reference: every user/assistant pair is
#: ``BOS [INST] {user} [/INST] {answer} EOS``, the system prompt folded into the first
#: user turn as ``<<SYS>>\n{system}\n<</SYS>>\n\n``, the turn text stripped as a whole.
LLAMA2 = Template(
    name="llama2",
    bos="<s>",
    eos="</s>",
    system_prefix="<<SYS>>\n",
    system_suffix="\n<</SYS>>\n\n",
    user_prefix="[INST] ",
    user_suffix=" [/INST]",
    assistant_prefix=" ",
    assistant_suffix=" </s>",
    system_placement="fold",
    strip="turn",
    bos_per_user_turn=True,
    stop_words=("</s>",),
)

#: Mistral instruct v1 as ``mistral_common`` encodes it: ``BOS [INST] {user} [/INST]``
#: then ``{answer} EOS``, every message encoded on its own (its own dummy prefix), a
#: non-empty system prompt folded into the first user message with a blank line.
MISTRAL = Template(
    name="mistral",
    bos="<s>",
    eos="</s>",
    system_suffix="\n\n",
    user_prefix="[INST] ",
    user_suffix=" [/INST]",
    assistant_suffix="</s>",
    system_placement="fold",
    skip_empty_system=True,
    per_turn_pieces=True,
    stop_words=("</s>",),
)

#: ChatML (OpenAI's chat markup, as used by many open models).
CHATML = Template(
    name="chatml",
    system_prefix="<|im_start|>system\n",
    system_suffix="<|im_end|>\n",
    user_prefix="<|im_start|>user\n",
    user_suffix="<|im_end|>\n",
    assistant_prefix="<|im_start|>assistant\n",
    assistant_suffix="<|im_end|>",
    assistant_after="\n",
    tool_prefix="<|im_start|>tool\n",
    tool_suffix="<|im_end|>\n",
    generation_prompt="<|im_start|>assistant\n",
    control_tokens=_CHATML,
    stop_words=("<|im_end|>",),
)


def _variant(base: Template, **changes: object) -> Template:
    fields = {**base.__dict__, **changes}
    return Template(**fields)  # type: ignore[arg-type]


#: Qwen2 instruct: ChatML with a default system prompt when none is given.
QWEN = _variant(
    CHATML,
    name="qwen",
    eos="<|im_end|>",
    default_system="You are a helpful assistant.",
    stop_words=("<|im_end|>", "<|endoftext|>"),
)

#: InternLM2 chat: ChatML opened by BOS.
INTERNLM2 = _variant(CHATML, name="internlm2", bos="<s>", eos="</s>")

#: Llama 3 instruct: header-delimited turns, content stripped, ``<|eot_id|>`` closes a turn.
LLAMA3 = Template(
    name="llama3",
    bos="<|begin_of_text|>",
    eos="<|eot_id|>",
    system_prefix="<|start_header_id|>system<|end_header_id|>\n\n",
    system_suffix="<|eot_id|>",
    user_prefix="<|start_header_id|>user<|end_header_id|>\n\n",
    user_suffix="<|eot_id|>",
    assistant_prefix="<|start_header_id|>assistant<|end_header_id|>\n\n",
    assistant_suffix="<|eot_id|>",
    tool_prefix="<|start_header_id|>tool<|end_header_id|>\n\n",
    tool_suffix="<|eot_id|>",
    generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
    strip="content",
    control_tokens=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    stop_words=("<|eot_id|>", "<|end_of_text|>"),
)

#: Gemma instruct: ``<start_of_turn>user|model`` turns, content trimmed; a system
#: prompt is folded into the first user turn followed by a blank line (as Gemma 3 does).
GEMMA = Template(
    name="gemma",
    bos="<bos>",
    eos="<eos>",
    system_suffix="\n\n",
    user_prefix="<start_of_turn>user\n",
    user_suffix="<end_of_turn>\n",
    assistant_prefix="<start_of_turn>model\n",
    assistant_suffix="<end_of_turn>",
    assistant_after="\n",
    generation_prompt="<start_of_turn>model\n",
    system_placement="fold",
    strip="content",
    control_tokens=("<start_of_turn>", "<end_of_turn>"),
    stop_words=("<end_of_turn>", "<eos>"),
)

#: Phi-3 instruct: ``<|role|>\n{content}<|end|>\n`` turns, EOS after the last turn.
PHI3 = Template(
    name="phi3",
    eos="<|endoftext|>",
    system_prefix="<|system|>\n",
    system_suffix="<|end|>\n",
    user_prefix="<|user|>\n",
    user_suffix="<|end|>\n",
    assistant_prefix="<|assistant|>\n",
    assistant_suffix="<|end|>",
    assistant_after="\n",
    generation_prompt="<|assistant|>\n",
    end="<|endoftext|>",
    control_tokens=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
    stop_words=("<|end|>", "<|endoftext|>"),
)

#: Zephyr: ``<|role|>\n{content}EOS\n`` turns (the role markers are plain text).
ZEPHYR = Template(
    name="zephyr",
    eos="</s>",
    system_prefix="<|system|>\n",
    system_suffix="</s>\n",
    user_prefix="<|user|>\n",
    user_suffix="</s>\n",
    assistant_prefix="<|assistant|>\n",
    assistant_suffix="</s>",
    assistant_after="\n",
    generation_prompt="<|assistant|>\n",
    stop_words=("</s>",),
)

#: Vicuna v1.1: ``{system} USER: {user} ASSISTANT: {answer}EOS``.
VICUNA = Template(
    name="vicuna",
    bos="<s>",
    eos="</s>",
    system_suffix=" ",
    user_prefix="USER: ",
    user_suffix=" ",
    assistant_prefix="ASSISTANT: ",
    assistant_suffix="</s>",
    generation_prompt="ASSISTANT:",
    default_system=(
        "A chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions."
    ),
    stop_words=("</s>",),
)

#: Stanford Alpaca: the instruction/response prompt, EOS after each response; further
#: turns repeat the instruction/response pair after a blank line.
ALPACA = Template(
    name="alpaca",
    bos="<s>",
    eos="</s>",
    system_suffix="\n\n",
    user_prefix="### Instruction:\n",
    user_suffix="\n\n",
    assistant_prefix="### Response:\n",
    assistant_suffix="</s>",
    assistant_after="\n\n",
    generation_prompt="### Response:\n",
    default_system=(
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request."
    ),
    stop_words=("</s>",),
)

BUILTINS: dict[str, Template] = {
    t.name: t
    for t in (LLAMA2, LLAMA3, MISTRAL, CHATML, QWEN, GEMMA, PHI3, ZEPHYR, VICUNA, ALPACA, INTERNLM2)
}


def register(template: Template) -> None:
    """Add a template to the registry (used by the xtuner variants)."""
    BUILTINS[template.name] = template


def names() -> list[str]:
    """Names of the built-in templates, sorted.

    >>> from sftdata import templates
    >>> "llama2" in templates.names()
    True
    """
    return sorted(BUILTINS)


def get(name: str) -> Template:
    """The built-in template called ``name``.

    >>> from sftdata import templates
    >>> templates.get("chatml").stop_words
    ('<|im_end|>',)
    """
    if not isinstance(name, str) or name not in BUILTINS:
        raise SftDataError(f"unknown template {name!r}; known templates: {', '.join(names())}")
    return BUILTINS[name]
