"""See what the model learns: one encoded row with its trained tokens highlighted.

In a terminal (ANSI colours, or plain brackets) and as a self-contained HTML page::

    >>> import sftdata as sd
    >>> tok = getfixture("llama_tokenizer")
    >>> row = sd.encode([{"role": "user", "content": "Hi"},
    ...                  {"role": "assistant", "content": "Hello!"}], tok, "llama2", max_length=64)
    >>> print(sd.view.terminal(row, tok, color=False))
    <s> [INST] Hi [/INST][[ Hello! </s>]]
    13 tokens, 4 trained (30.8%)

``[[ ... ]]`` marks trained tokens (``labels != -100``); with colours they are green and
the rest is dimmed; ``║`` separates the samples of a packed row. Control tokens are
shown as the tokenizer spells them.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdata._contract import IGNORE_INDEX, SftDataError

__all__ = ["TokenView", "html", "save_html", "show", "terminal", "token_views"]

_GREEN = ("\x1b[30;42m", "\x1b[30;102m")  # two shades, alternating, so boundaries show
_DIM = ("\x1b[2m", "\x1b[2;4m")
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_WINDOW = 8  # tokens of left context used to decode one token's text


@dataclass(frozen=True)
class TokenView:
    """One token as the viewer shows it."""

    id: int
    text: str
    label: int
    special: bool
    sample: int  # index of the sample inside a packed row (0 for an unpacked row)

    @property
    def trained(self) -> bool:
        return self.label != IGNORE_INDEX


def token_views(row: Mapping[str, Any], tokenizer: Any) -> list[TokenView]:
    """The tokens of ``row`` (``input_ids``, optional ``labels`` / ``seq_lens``) with their text.

    Each token's text is what it adds to the decoded string (decoded with a few tokens of
    left context, so sentencepiece spaces and multi-byte characters come out right).
    """
    if "input_ids" not in row:
        raise SftDataError(f"view: the row has no 'input_ids'; keys: {sorted(row)}")
    ids = [int(t) for t in row["input_ids"]]
    labels = [int(t) for t in row["labels"]] if row.get("labels") is not None else list(ids)
    if len(labels) != len(ids):
        raise SftDataError(f"view: {len(ids)} input_ids but {len(labels)} labels")
    seq_lens = list(row["seq_lens"]) if row.get("seq_lens") is not None else [len(ids)]
    if sum(seq_lens) != len(ids):
        raise SftDataError(f"view: seq_lens {seq_lens} do not add up to {len(ids)} tokens")
    sample = [k for k, n in enumerate(seq_lens) for _ in range(int(n))]
    specials = set(getattr(tokenizer, "all_special_ids", []) or [])
    return [
        TokenView(t, _token_text(tokenizer, ids, i), labels[i], t in specials, sample[i])
        for i, t in enumerate(ids)
    ]


def terminal(row: Mapping[str, Any], tokenizer: Any, *, color: bool = True) -> str:
    """The row as one string for a terminal, with a summary line.

    ``color=False`` marks trained runs with ``[[`` ``]]`` instead of colours.
    """
    views = token_views(row, tokenizer)
    parts: list[str] = []
    prev: TokenView | None = None
    for k, v in enumerate(views):
        if prev is not None and v.sample != prev.sample:
            parts.append(("]]" if prev.trained and not color else "") + " ║ ")
            prev = None
        if not color:
            if v.trained and (prev is None or not prev.trained):
                parts.append("[[")
            if not v.trained and prev is not None and prev.trained:
                parts.append("]]")
            parts.append(v.text)
        else:
            shade = (_GREEN if v.trained else _DIM)[k % 2]
            parts.append(shade + (_BOLD if v.special else "") + _visible(v.text) + _RESET)
        prev = v
    if not color and prev is not None and prev.trained:
        parts.append("]]")
    return "".join(parts) + "\n" + _summary(views)


def show(row: Mapping[str, Any], tokenizer: Any, *, color: bool = True) -> None:
    """Print :func:`terminal` of the row."""
    print(terminal(row, tokenizer, color=color))


def html(
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    tokenizer: Any,
    *,
    title: str = "sftdata: trained tokens",
) -> str:
    """A self-contained HTML page (inline CSS, no scripts) showing one or more rows.

    Hovering a token shows its id and label.
    """
    batch = [rows] if isinstance(rows, Mapping) else list(rows)
    body = [f"<h1>{_html.escape(title)}</h1>", _LEGEND]
    for r, row in enumerate(batch):
        views = token_views(row, tokenizer)
        spans: list[str] = []
        for k, v in enumerate(views):
            if k and v.sample != views[k - 1].sample:
                spans.append('<span class="sep">║</span>')
            cls = ("tr" if v.trained else "un") + (" sp" if v.special else "") + f" s{k % 2}"
            tip = f"#{k} id {v.id} label {v.label if v.trained else '-100'}"
            text = _html.escape(v.text).replace("\n", "↵<br>") or "∅"
            spans.append(f'<span class="{cls}" title="{tip}">{text}</span>')
        body.append(
            f"<section><h2>row {r}</h2><p class=sum>{_html.escape(_summary(views))}</p>"
            f"<pre>{''.join(spans)}</pre></section>"
        )
    return _PAGE.format(title=_html.escape(title), body="\n".join(body))


def save_html(
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    tokenizer: Any,
    path: str | Path,
    *,
    title: str = "sftdata: trained tokens",
) -> Path:
    """Write :func:`html` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(html(rows, tokenizer, title=title), encoding="utf-8")
    return out


def _token_text(tokenizer: Any, ids: list[int], i: int) -> str:
    start = max(0, i - _WINDOW)
    before = tokenizer.decode(ids[start:i], skip_special_tokens=False) if i > start else ""
    full = tokenizer.decode(ids[start : i + 1], skip_special_tokens=False)
    if full.startswith(before):
        return str(full[len(before) :])
    return str(tokenizer.convert_ids_to_tokens(ids[i]))  # a multi-byte character in flight


def _visible(text: str) -> str:
    return text.replace("\n", "↵\n") if text else "∅"


def _summary(views: list[TokenView]) -> str:
    n, t = len(views), sum(v.trained for v in views)
    samples = len({v.sample for v in views})
    pct = 100 * t / n if n else 0.0
    extra = f", {samples} packed samples" if samples > 1 else ""
    return f"{n} tokens, {t} trained ({pct:.1f}%){extra}"


_LEGEND = (
    '<p><span class="tr s0">trained</span> <span class="un s0">not trained</span> '
    '<span class="un sp s0">control token</span> <span class="sep">║</span> sample boundary</p>'
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
pre {{ white-space: pre-wrap; font: 14px/1.7 ui-monospace, monospace; }}
span.tr.s0 {{ background: #b7ebc0; }} span.tr.s1 {{ background: #8fdc9c; }}
span.un {{ color: #777; }} span.un.s1 {{ background: #f1f1f1; }}
span.sp {{ font-weight: bold; outline: 1px solid #c9a; }}
span.sep {{ color: #c00; font-weight: bold; padding: 0 .3em; }}
p.sum {{ color: #555; }}
</style></head>
<body>
{body}
</body></html>
"""
