"""Templates as data: ``to_dict`` / ``from_dict`` and a JSON file (``save`` / ``load``).

A model exported by sfttrain carries its training template as ``sftdata_template.json``
so the server encodes prompts with the template itself, not a jinja re-rendering::

    {"format": "sftdata.template", "version": 1, "kind": "template",
     "fields": {"name": "llama2", "bos": "<s>", ..., "stop_words": ["</s>"]}}

``kind`` is ``template`` (a :class:`Template`) or ``jinja`` (a
:class:`JinjaTemplate`, the model's own ``chat_template`` with its control tokens).

>>> from sftdata import templates
>>> t = templates.get("chatml")
>>> templates.from_dict(templates.to_dict(t)) == t
True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sftdata._contract import SftDataError
from sftdata.templates._jinja import JinjaTemplate
from sftdata.templates._template import Template

__all__ = ["FORMAT", "from_dict", "load", "save", "to_dict"]

FORMAT = "sftdata.template"
_VERSION = 1
_KINDS: dict[str, type[Any]] = {"template": Template, "jinja": JinjaTemplate}
_TUPLES = ("control_tokens", "stop_words")


def to_dict(template: Template | JinjaTemplate) -> dict[str, Any]:
    """The JSON-ready data of ``template`` (tuples become lists)."""
    kind = next((k for k, cls in _KINDS.items() if type(template) is cls), None)
    if kind is None:
        raise SftDataError(
            f"to_dict: expected a Template or JinjaTemplate, got {type(template).__name__}"
        )
    fields = {
        f.name: list(v) if isinstance(v := getattr(template, f.name), tuple) else v
        for f in dataclasses.fields(template)
    }
    return {"format": FORMAT, "version": _VERSION, "kind": kind, "fields": fields}


def from_dict(data: Any) -> Template | JinjaTemplate:
    """The template :func:`to_dict` described; a clear error naming a bad key."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SftDataError(f"template data: 'format' must be {FORMAT!r}")
    if data.get("version") != _VERSION:
        raise SftDataError(f"template data: version {data.get('version')!r} is not {_VERSION}")
    cls = _KINDS.get(data.get("kind"))  # type: ignore[arg-type]
    if cls is None:
        raise SftDataError(f"template data: 'kind' must be one of {sorted(_KINDS)}")
    fields = data.get("fields")
    if not isinstance(fields, dict):
        raise SftDataError("template data: 'fields' must be an object")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise SftDataError(
            f"template data: fields.{unknown[0]}: unknown key; known: {sorted(known)}"
        )
    values = {k: tuple(v) if k in _TUPLES and isinstance(v, list) else v for k, v in fields.items()}
    try:
        return cls(**values)  # type: ignore[no-any-return]
    except TypeError as e:
        raise SftDataError(f"template data: {e}") from e


def save(template: Template | JinjaTemplate, path: str | Path) -> Path:
    """Write ``template`` as JSON to ``path``; returns the path."""
    out = Path(path)
    out.write_text(json.dumps(to_dict(template), indent=1, ensure_ascii=False), encoding="utf-8")
    return out


def load(path: str | Path) -> Template | JinjaTemplate:
    """The template saved at ``path`` (a file, or a folder holding ``sftdata_template.json``).

    >>> import tempfile, pathlib
    >>> from sftdata import templates
    >>> p = templates.save(templates.get("llama3"), pathlib.Path(tempfile.mkdtemp()) / "t.json")
    >>> templates.load(p) == templates.get("llama3")
    True
    """
    p = Path(path)
    if p.is_dir():
        p = p / "sftdata_template.json"
    if not p.is_file():
        raise SftDataError(f"no template file at {str(p)!r}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SftDataError(f"template file {str(p)!r} is not JSON: {e}") from e
    return from_dict(data)
