"""Compile a :class:`Template` into an HF ``chat_template`` (jinja) string.

The generated template only emits string literals through ``{{ }}`` and uses
whitespace-trimming tags everywhere, so it renders the same text whether or not the
serving side loads it with ``trim_blocks`` / ``lstrip_blocks``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sftdata.templates._template import Template

__all__ = ["template_to_jinja"]


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


def _user_block(t: Template) -> str:
    bos = "{{- " + _lit(t.bos) + " -}}" if t.bos_per_user_turn and t.bos else ""
    plain = f"{_lit(t.user_prefix)} + {_content(_MSG, t.strip != 'none')} + {_lit(t.user_suffix)}"
    if t.system_placement != "first_user":
        return bos + "{{- " + plain + " -}}"
    fold = f"{_lit(t.system_prefix)} + system + {_lit(t.system_suffix)}"
    if t.strip == "turn":
        body = f"(({fold} + {_MSG}) | trim)"
    else:
        body = f"{fold} + {_content(_MSG, t.strip == 'content')}"
    folded = f"{_lit(t.user_prefix)} + {body} + {_lit(t.user_suffix)}"
    return (
        bos + "{%- if loop.first and system is not none -%}{{- " + folded + " -}}"
        "{%- else -%}{{- " + plain + " -}}{%- endif -%}"
    )


_MSG = "message['content']"


def template_to_jinja(t: Template) -> str:
    """The jinja source of ``t`` (see :meth:`Template.to_jinja`)."""
    strip = t.strip != "none"
    assistant = (
        f"{_lit(t.assistant_prefix)} + {_content(_MSG, strip)} + "
        f"{_lit(t.assistant_suffix)} + {_lit(t.assistant_after)}"
    )
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
        _system_block(t)
        + "{%- for message in messages[start:] -%}"
        + "{%- if message['role'] == 'user' -%}"
        + _user_block(t)
        + "{%- elif message['role'] == 'assistant' -%}{{- "
        + assistant
        + " -}}{%- elif message['role'] == 'tool' -%}"
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
