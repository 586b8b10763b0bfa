"""Templates reproducing xtuner's ``PROMPT_TEMPLATE`` formats (for users migrating).

An xtuner prompt template has ``SYSTEM`` (with ``{system}``), ``INSTRUCTION`` (with
``{input}`` and optionally ``{round}``), ``SUFFIX``, ``SUFFIX_AS_EOS``, ``SEP`` and
``STOP_WORDS``. xtuner encodes a conversation turn by turn::

    [BOS] SYSTEM+INSTRUCTION | [answer + SUFFIX] | [EOS if not SUFFIX_AS_EOS] | SEP | [BOS] ...
          (one piece)          (one piece, trained)   (trained)              (piece, untrained)

``SEP`` follows *every* turn, the last one included (xtuner's ``template_map_fn`` sets
it on each turn and ``encode_fn`` appends it after each EOS), and ``BOS`` opens every
turn unless ``SUFFIX_AS_EOS``. :func:`from_xtuner` builds the equivalent
:class:`Template` (``after_last=True``: the trailing SEP is kept, untrained, so ids and
labels equal xtuner's; ``dataclasses.replace(t, after_last=False)`` drops it); the
built-ins are registered as ``xtuner_<name>``.
"""

from __future__ import annotations

from sftdata._contract import SftDataError
from sftdata.templates._families import register
from sftdata.templates._template import Template

__all__ = ["XTUNER_FORMATS", "from_xtuner"]


def _split(field: str, text: str, placeholder: str) -> tuple[str, str]:
    if text.count(placeholder) != 1:
        raise SftDataError(f"xtuner {field} must contain {placeholder} exactly once, got {text!r}")
    before, after = text.split(placeholder)
    return before, after


def from_xtuner(
    name: str,
    *,
    system: str = "{system}\n",
    instruction: str = "{input}",
    suffix: str = "",
    suffix_as_eos: bool = False,
    sep: str = "",
    stop_words: tuple[str, ...] = (),
    bos: str = "<s>",
    eos: str = "</s>",
    control_tokens: tuple[str, ...] = (),
) -> Template:
    """A :class:`Template` equal to an xtuner ``PROMPT_TEMPLATE`` entry.

    ``bos`` / ``eos`` are the model's own BOS/EOS tokens (xtuner takes them from the
    tokenizer); ``control_tokens`` lists other control tokens its strings contain.

    >>> t = from_xtuner("mine", system="<|System|>:{system}\\n",
    ...                 instruction="<|User|>:{input}\\n<|Bot|>:", sep="\\n")
    >>> t.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
    ...           {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    '<s><|User|>:hi\\n<|Bot|>:yo</s>\\n<s><|User|>:q\\n<|Bot|>:a</s>\\n'
    """
    sys_pre, sys_suf = _split("SYSTEM", system, "{system}")
    user_pre, user_suf = _split("INSTRUCTION", instruction, "{input}")
    if not isinstance(stop_words, tuple):
        raise SftDataError("stop_words must be a tuple of strings")
    return Template(
        name=name,
        bos=bos,
        eos=eos,
        system_prefix=sys_pre,
        system_suffix=sys_suf,
        user_prefix=user_pre,
        user_suffix=user_suf,
        assistant_suffix=suffix if suffix_as_eos else suffix + eos,
        assistant_after=sep,
        after_last=True,  # xtuner appends SEP after the last turn too
        system_placement="prepend",
        skip_empty_system=True,
        bos_per_user_turn=not suffix_as_eos,
        per_turn_pieces=True,
        control_tokens=control_tokens,
        stop_words=stop_words,
    )


_CHATML = ("<|im_start|>", "<|im_end|>")
_VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions. {system}\n "
)
_LLAMA2_SYSTEM = (
    "[INST] <<SYS>>\n You are a helpful, respectful and honest assistant. Always answer as "
    "helpfully as possible, while being safe. Your answers should not include any harmful, "
    "unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your "
    "responses are socially unbiased and positive in nature.\n{system}\n<</SYS>>\n [/INST] "
)

#: xtuner's PROMPT_TEMPLATE entries (xtuner/utils/templates.py), with each model's BOS/EOS.
XTUNER_FORMATS: dict[str, dict[str, object]] = {
    "default": dict(
        system="<|System|>:{system}\n", instruction="<|User|>:{input}\n<|Bot|>:", sep="\n"
    ),
    "zephyr": dict(
        system="<|system|>\n{system}\n", instruction="<|user|>\n{input}\n<|assistant|>\n", sep="\n"
    ),
    "internlm2_chat": dict(
        system="<|im_start|>system\n{system}<|im_end|>\n",
        instruction="<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n",
        suffix="<|im_end|>",
        suffix_as_eos=True,
        sep="\n",
        stop_words=("<|im_end|>",),
        control_tokens=_CHATML,
    ),
    "llama2_chat": dict(system=_LLAMA2_SYSTEM, instruction="[INST] {input} [/INST]", sep="\n"),
    "code_llama_chat": dict(system="{system}\n", instruction="[INST] {input} [/INST]"),
    "qwen_chat": dict(
        system="\n<|im_start|>system\n{system}<|im_end|>",
        instruction="\n<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n",
        suffix="<|im_end|>",
        suffix_as_eos=True,
        sep="\n",
        stop_words=("<|im_end|>", "<|endoftext|>"),
        bos="",
        eos="<|endoftext|>",
        control_tokens=_CHATML,
    ),
    "vicuna": dict(system=_VICUNA_SYSTEM, instruction="USER: {input} ASSISTANT:", sep="\n"),
    "wizardlm": dict(system=_VICUNA_SYSTEM, instruction="USER: {input} ASSISTANT:", sep="\n"),
    "mistral": dict(
        system="[INST] {system} [/INST]\n", instruction="[INST] {input} [/INST]", sep="\n"
    ),
    "mixtral": dict(
        system="[INST] {system} [/INST]\n", instruction="[INST] {input} [/INST]", sep="\n"
    ),
    "gemma": dict(
        system="<start_of_turn>system\n{system}<end_of_turn>\n",
        instruction="<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n",
        suffix="<end_of_turn>",
        sep="\n",
        stop_words=("<end_of_turn>",),
        bos="<bos>",
        eos="<eos>",
        control_tokens=("<start_of_turn>", "<end_of_turn>"),
    ),
    "llama3_chat": dict(
        system="<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
        instruction=(
            "<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        ),
        suffix="<|eot_id|>",
        suffix_as_eos=True,
        stop_words=("<|eot_id|>",),
        bos="<|begin_of_text|>",
        eos="<|end_of_text|>",
        control_tokens=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    ),
    "phi3_chat": dict(
        system="<|system|>\n{system}<|end|>\n",
        instruction="<|user|>\n{input}<|end|>\n<|assistant|>\n",
        suffix="<|end|>",
        suffix_as_eos=True,
        sep="\n",
        stop_words=("<|end|>",),
        eos="<|endoftext|>",
        control_tokens=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
    ),
}

for _key, _fields in XTUNER_FORMATS.items():
    register(from_xtuner(f"xtuner_{_key}", **_fields))  # type: ignore[arg-type]
