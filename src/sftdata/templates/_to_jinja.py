"""Compile a :class:`Template` into an HF ``chat_template`` (jinja) string.

The generated template only emits string literals through ``{{ }}`` and uses
whitespace-trimming tags everywhere, so it renders the same text whether or not the
serving side loads it with ``trim_blocks`` / ``lstrip_blocks``.
"""

from __future__ import annotations

import json
from typing import Protocol

__all__ = ["template_to_jinja"]


class Template(Protocol):
    """The fields of :class:`sftdata.templates.Template` this compiler reads (a seam, so
    this module needs nothing from ``_template`` and the import goes one way)."""

    @property
    def name(self) -> str: ...
    @property
    def bos(self) -> str: ...
    @property
    def end(self) -> str: ...
    @property
    def system_prefix(self) -> str: ...
    @property
    def system_suffix(self) -> str: ...
    @property
    def user_prefix(self) -> str: ...
    @property
    def user_suffix(self) -> str: ...
    @property
    def assistant_prefix(self) -> str: ...
    @property
    def assistant_suffix(self) -> str: ...
    @property
    def assistant_after(self) -> str: ...
    @property
    def after_last(self) -> bool: ...
    @property
    def tool_prefix(self) -> str | None: ...
    @property
    def tool_suffix(self) -> str: ...
    @property
    def generation_prompt(self) -> str: ...
    @property
    def default_system(self) -> str | None: ...
    @property
    def system_placement(self) -> str: ...
    @property
    def skip_empty_system(self) -> bool: ...
    @property
    def strip(self) -> str: ...
    @property
    def bos_per_user_turn(self) -> bool: ...


def _lit(text: str) -> str:
    # A JSON string is a valid jinja string literal (same escapes).
    return json.dumps(text)


def _content(expr: str, strip: bool) -> str:
    return f"({expr} | trim)" if strip else expr


def _system_block(t: Template) -> str:
    default = _lit(t.default_system) if t.default_system is not None else "none"
    out = (
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set system = messages[0]['content'] -%}{%- set start = 1 -%}"
        f"{{%- else -%}}{{%- set system = {default} -%}}{{%- set start = 0 -%}}{{%- endif -%}}"
    )
    if t.skip_empty_system:
        out += (
            "{%- if system is not none and system == '' -%}{%- set system = none -%}{%- endif -%}"
        )
    if not t.bos_per_user_turn and t.bos:
        out += "{{- " + _lit(t.bos) + " -}}"
    if t.system_placement == "turn":
        body = _content("system", t.strip != "none")
        out += (
            "{%- if system is not none -%}{{- "
            f"{_lit(t.system_prefix)} + {body} + {_lit(t.system_suffix)}"
            " -}}{%- endif -%}"
        )
    return out


def _lit_round(text: str) -> str:
    # "{round}" is the 1-based number of the user turn, counted in ``ns.rounds``.
    return " + (ns.rounds | string) + ".join(_lit(part) for part in text.split("{round}"))


def _user_block(t: Template) -> str:
    out = "{%- set ns.rounds = ns.rounds + 1 -%}"
    out += "{{- " + _lit(t.bos) + " -}}" if t.bos_per_user_turn and t.bos else ""
    pre, suf = _lit_round(t.user_prefix), _lit_round(t.user_suffix)
    plain = f"{pre} + {_content(_MSG, t.strip != 'none')} + {suf}"
    if t.system_placement == "turn":
        return out + "{{- " + plain + " -}}"
    system = f"{_lit(t.system_prefix)} + system + {_lit(t.system_suffix)}"
    if t.system_placement == "prepend":
        with_system = f"{system} + {plain}"
    elif t.strip == "turn":
        with_system = f"{pre} + (({system} + {_MSG}) | trim) + {suf}"
    else:
        with_system = f"{pre} + {system} + {_content(_MSG, t.strip == 'content')} + {suf}"
    return (
        out + "{%- if loop.first and system is not none -%}{{- " + with_system + " -}}"
        "{%- else -%}{{- " + plain + " -}}{%- endif -%}"
    )


_MSG = "message['content']"


def template_to_jinja(t: Template) -> str:
    """The jinja source of ``t`` (see :meth:`Template.to_jinja`)."""
    strip = t.strip != "none"
    assistant = (
        "{{- "
        + (f"{_lit(t.assistant_prefix)} + {_content(_MSG, strip)} + {_lit(t.assistant_suffix)}")
        + " -}}"
    )
    after = "{{- " + _lit(t.assistant_after) + " -}}"
    assistant += after if t.after_last else "{%- if not loop.last -%}" + after + "{%- endif -%}"
    if t.tool_prefix is not None:
        tool = (
            "{{- "
            + f"{_lit(t.tool_prefix)} + {_content(_MSG, strip)} + {_lit(t.tool_suffix)}"
            + " -}}"
        )
    else:
        tool = "{{- raise_exception(" + _lit(f"template {t.name!r} has no tool turn") + ") -}}"
    bad_role = (
        "{{- raise_exception("
        + _lit(f"template {t.name} cannot render role ")
        + " + message['role']) -}}"
    )
    return (
        "{%- set ns = namespace(rounds=0) -%}"
        + _system_block(t)
        + "{%- for message in messages[start:] -%}"
        + "{%- if message['role'] == 'user' -%}"
        + _user_block(t)
        + "{%- elif message['role'] == 'assistant' -%}"
        + assistant
        + "{%- elif message['role'] == 'tool' -%}"
        + tool
        + "{%- else -%}"
        + bad_role
        + "{%- endif -%}{%- endfor -%}"
        + "{%- if add_generation_prompt -%}{{- "
        + _lit(t.generation_prompt)
        + " -}}{%- else -%}{{- "
        + _lit(t.end)
        + " -}}{%- endif -%}"
    )
