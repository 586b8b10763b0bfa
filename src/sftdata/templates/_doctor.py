"""``check_tokenizer(tok, template=None)``: tokenizer traps caught before training.

Each check gives one line, ``ok`` / ``warn`` / ``fail``, and the fix::

    ok    fast: tokenizers-backed (offsets for label masks)
    fail  sentencepiece: differs on probe 'indentation' '\\n    return x': ... -> fix: ...
    warn  pad: pad_token == eos_token ('</s>'): ... -> fix: ...

The checks: a fast tokenizer; the same ids as its sentencepiece model (when one is
found) on probes of whitespace runs, indentation, tabs, unicode, digits, byte fallback
and leading spaces; BOS/EOS/pad present, and what ``pad == eos`` means for masks; a
double BOS from the tokenizer's own ``chat_template``; that template's render against
the sftdata template's render of the same chat; the template's control tokens and EOS;
added tokens that are not marked special. ``sftdata doctor --tokenizer DIR`` prints
the report and exits non-zero when a check fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sftdata._sentencepiece import PROBES, first_difference, sentencepiece_path
from sftdata.templates._families import get

__all__ = ["Check", "TokenizerReport", "check_tokenizer"]

Status = Literal["ok", "warn", "fail"]

#: The chat the template checks render (a system prompt, two rounds).
CHAT = (
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello, how can I help?"},
    {"role": "user", "content": "Write a loop."},
    {"role": "assistant", "content": "for i in range(3):\n    print(i)"},
)
_FAST_FIX = "sd.tokenize.fast_from_sentencepiece('DIR/tokenizer.model'), then save_pretrained(DIR)"


@dataclass(frozen=True)
class Check:
    """One check: its ``name``, ``status`` (ok / warn / fail), what was seen, the fix."""

    name: str
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        """``status  name: message -> fix: fix`` (no fix on an ok line)."""
        fix = f" -> fix: {self.fix}" if self.fix and self.status != "ok" else ""
        return f"{self.status:<4}  {self.name}: {self.message}{fix}"


@dataclass(frozen=True)
class TokenizerReport:
    """The checks of :func:`check_tokenizer`, in order.

    >>> r = TokenizerReport((Check("eos", "ok", "'</s>'"), Check("pad", "fail", "none", "add")))
    >>> r.ok, [c.name for c in r.failed]
    (False, ['pad'])
    >>> print(r)
    ok    eos: '</s>'
    fail  pad: none -> fix: add
    """

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_text(self) -> str:
        return "\n".join(c.line() for c in self.checks)

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def check_tokenizer(
    tokenizer: Any, template: Any = None, *, sentencepiece_model: str | Path | None = None
) -> TokenizerReport:
    """Check ``tokenizer`` (and its fit with ``template``, a template or its name).

    ``sentencepiece_model`` is the ``tokenizer.model`` to compare with; by default the
    tokenizer's own ``vocab_file`` or the ``tokenizer.model`` beside it, if any.

    >>> tok = getfixture("llama_tokenizer")
    >>> report = check_tokenizer(tok, "llama2")
    >>> report["sentencepiece"].status, report.ok
    ('fail', False)
    """
    if isinstance(template, str):
        template = get(template)
    checks = [_fast(tokenizer), _sentencepiece(tokenizer, sentencepiece_model)]
    checks += _special_tokens(tokenizer)
    checks.append(_double_bos(tokenizer))
    if template is not None:
        checks += _template_fit(tokenizer, template)
    checks.append(_added_not_special(tokenizer))
    return TokenizerReport(tuple(checks))


def _fast(tok: Any) -> Check:
    if getattr(tok, "is_fast", False):
        return Check("fast", "ok", "tokenizers-backed (offsets for label masks)")
    return Check(
        "fast",
        "fail",
        f"{type(tok).__name__} is not a fast tokenizer; sftdata's encoder needs offsets",
        "AutoTokenizer.from_pretrained(DIR), or " + _FAST_FIX,
    )


def _sentencepiece(tok: Any, model: str | Path | None) -> Check:
    path = Path(model) if model is not None else sentencepiece_path(tok)
    if path is None:
        return Check("sentencepiece", "ok", "no tokenizer.model found: nothing to compare")
    try:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(path))
    except Exception as e:
        return Check(
            "sentencepiece", "warn", f"cannot load {path}: {e}", "pip install sentencepiece"
        )
    diff = first_difference(tok, sp)
    if diff is None:
        return Check("sentencepiece", "ok", f"same ids as {path.name} on {len(PROBES)} probes")
    name, text, ours, theirs = diff
    return Check(
        "sentencepiece",
        "fail",
        f"differs from {path.name} on probe {name!r} {text!r}: tokenizer {ours} vs "
        f"sentencepiece {theirs} (the model was pretrained on sentencepiece's ids)",
        _FAST_FIX,
    )


def _special_tokens(tok: Any) -> list[Check]:
    out = []
    bos, eos, pad = (getattr(tok, f"{n}_token", None) for n in ("bos", "eos", "pad"))
    out.append(
        Check("bos", "ok", repr(bos))
        if bos
        else Check(
            "bos",
            "warn",
            "no BOS token (right for families without one, e.g. Qwen)",
            "set tok.bos_token if the model was trained with one",
        )
    )
    out.append(
        Check("eos", "ok", repr(eos))
        if eos
        else Check(
            "eos",
            "fail",
            "no EOS token: answers cannot be ended and generation never stops",
            "tok.eos_token = '<the model's end-of-turn token>'",
        )
    )
    if not pad:
        out.append(
            Check(
                "pad",
                "warn",
                "no pad token: batches need a pad id",
                "sd.Collator(pad_token_id=tok.eos_token_id) (masks come from lengths), "
                "or tok.pad_token = tok.unk_token",
            )
        )
    elif pad == eos:
        out.append(
            Check(
                "pad",
                "warn",
                f"pad_token == eos_token ({pad!r}): a collator that builds masks or labels "
                "from `input_ids != pad_token_id` also hides every real EOS, so the model "
                "never learns to stop (sd.Collator masks by length and is safe)",
                "pad with sd.Collator, or set a distinct pad token (tok.pad_token = tok.unk_token)",
            )
        )
    else:
        out.append(Check("pad", "ok", repr(pad)))
    return out


def _chat_template(tok: Any) -> str | None:
    source = getattr(tok, "chat_template", None)
    if isinstance(source, dict):
        source = source.get("default")
    return source if isinstance(source, str) and source else None


def _render(tok: Any, chat: Any, **kw: Any) -> Any:
    """``apply_chat_template``; without the system turn if the template refuses one."""
    try:
        return tok.apply_chat_template(list(chat), **kw)
    except Exception:
        return tok.apply_chat_template([m for m in chat if m["role"] != "system"], **kw)


def _double_bos(tok: Any) -> Check:
    bos_id = getattr(tok, "bos_token_id", None)
    if _chat_template(tok) is None or bos_id is None:
        return Check("double_bos", "ok", "no chat_template (or no BOS): nothing to check")
    try:
        ids = _render(tok, CHAT, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        text = _render(tok, CHAT, tokenize=False)
        again = tok(text)["input_ids"]
    except Exception as e:
        return Check("double_bos", "warn", f"the chat_template does not render: {e}", "")
    if list(ids[:2]) == [bos_id, bos_id]:
        return Check(
            "double_bos",
            "fail",
            "apply_chat_template(tokenize=True) starts with two BOS",
            "remove the BOS from the chat_template or the tokenizer's post-processor",
        )
    if list(again[:2]) == [bos_id, bos_id]:
        return Check(
            "double_bos",
            "warn",
            "the chat_template writes BOS and the tokenizer adds one: "
            "tok(tok.apply_chat_template(chat, tokenize=False)) starts with two BOS",
            "tokenize rendered chats with add_special_tokens=False (sd.Encode does)",
        )
    return Check("double_bos", "ok", "one BOS")


def _template_fit(tok: Any, template: Any) -> list[Check]:
    name = getattr(template, "name", "template")
    out = [_control_tokens(tok, template), _template_eos(tok, template)]
    source = _chat_template(tok)
    if source is None:
        out.append(
            Check(
                "chat_template",
                "warn",
                f"the tokenizer has no chat_template; it will be served without {name!r}",
                "tok.chat_template = template.to_jinja(); tok.save_pretrained(DIR)",
            )
        )
        return out
    try:
        ours, theirs = _renders(tok, template)
    except Exception as e:  # the tokenizer's own template fails on a plain chat
        out.append(Check("chat_template", "warn", f"the chat_template does not render: {e}"))
        return out
    if ours == theirs:
        out.append(Check("chat_template", "ok", f"renders the same text as {name!r}"))
        return out
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
    at = min(len(ours), len(theirs)) if at is None else at
    out.append(
        Check(
            "chat_template",
            "warn",
            f"the tokenizer's chat_template and {name!r} differ at char {at}: tokenizer "
            f"{theirs[max(0, at - 20) : at + 20]!r}, sftdata {ours[max(0, at - 20) : at + 20]!r}; "
            "the model would be trained in one format and served in another",
            "train with sd.templates.from_tokenizer(tok), or set "
            "tok.chat_template = template.to_jinja() before saving",
        )
    )
    return out


def _renders(tok: Any, template: Any) -> tuple[str, str]:
    chat: list[dict[str, str]] = list(CHAT)
    try:
        theirs = tok.apply_chat_template(chat, tokenize=False)
    except Exception:  # a template without a system turn: compare without it
        chat = [m for m in chat if m["role"] != "system"]
        theirs = tok.apply_chat_template(chat, tokenize=False)
    try:
        ours = template.render(chat)
    except Exception as e:
        ours = f"<{_name(template)} cannot render this chat: {e}>"
    return ours, str(theirs)


def _name(template: Any) -> str:
    """A template's name, for messages."""
    return str(getattr(template, "name", "template"))


def _control_tokens(tok: Any, template: Any) -> Check:
    tokens = {getattr(template, n, "") for n in ("bos", "eos", "bos_token", "eos_token")}
    tokens |= set(getattr(template, "control_tokens", ()))
    vocab = tok.get_vocab()
    missing = sorted(t for t in tokens if isinstance(t, str) and t and t not in vocab)
    if missing:
        return Check(
            "control_tokens",
            "fail",
            f"{_name(template)!r} uses tokens the tokenizer lacks: {missing}",
            "tok.add_special_tokens({'additional_special_tokens': [...]}) and resize the "
            "model's embeddings, or pick the template of this model family",
        )
    return Check("control_tokens", "ok", f"all {len(tokens - {''})} in the vocabulary")


def _template_eos(tok: Any, template: Any) -> Check:
    eos = getattr(tok, "eos_token", None)
    closing = str(getattr(template, "assistant_suffix", "") or getattr(template, "eos_token", ""))
    stops = [s for s in getattr(template, "stop_words", ()) if s]
    if not eos or eos in closing or eos in stops or not stops:
        return Check("template_eos", "ok", f"answers end with the tokenizer's EOS {eos!r}")
    return Check(
        "template_eos",
        "warn",
        f"{_name(template)!r} ends answers with {stops[0]!r} but eos_token is {eos!r}: "
        "generation stops only at the EOS",
        f"set generation_config.eos_token_id to include the id of {stops[0]!r}",
    )


def _added_not_special(tok: Any) -> Check:
    added = getattr(tok, "added_tokens_decoder", {}) or {}
    plain = sorted(str(t) for t in added.values() if not getattr(t, "special", True))
    if not plain:
        return Check("added_tokens", "ok", f"{len(added)} added tokens, all special")
    return Check(
        "added_tokens",
        "warn",
        f"added tokens not marked special: {plain[:8]}{' ...' if len(plain) > 8 else ''}; "
        "decode(skip_special_tokens=True) keeps them and the encoder treats them as text",
        "tok.add_special_tokens({'additional_special_tokens': [...]}) if they are controls",
    )
