"""Private copies of a user's Rust tokenizer, set up for piece-by-piece tokenization.

sftdata tokenizes template pieces with ``add_special_tokens=False``, keeps content that
looks like a control token as text (``encode_special_tokens=True``) and, for a piece
that continues a string after a control token, turns off a start-of-call word prefix
(Metaspace ``prepend_scheme="first"``). Doing that by changing the user's tokenizer
and changing it back is visible to every other thread using that tokenizer, so it is
done on copies instead:

* ``start``: the backend as it is, with ``encode_special_tokens=True`` and no
  truncation or padding;
* ``cont``: the same with the start prefix off (``None`` when the tokenizer has no such
  prefix: ``start`` serves both).

Copies are made once per tokenizer object (about 0.1 s for a 32k vocabulary) and made
again whenever its :func:`state` changes. A tokenizer that cannot be copied (no Rust
backend, a class that changes how it encodes, a custom Python component) gets
``None``: callers then use its public call.
"""

from __future__ import annotations

import copy
import json
import threading
import weakref
from typing import Any, NamedTuple


class Copies(NamedTuple):
    """A tokenizer's private copies and the state they were made from."""

    state: Any
    start: Any
    cont: Any
    split: bool  # START and CONT pieces need different copies


_COPIES: weakref.WeakKeyDictionary[Any, Copies] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def copies(tokenizer: Any) -> Copies | None:
    """The private copies of ``tokenizer`` for its current state, or ``None``."""
    backend = plain_backend(tokenizer)
    if backend is None:
        return None
    now = state(backend)
    if now is None:
        return None
    known = _COPIES.get(tokenizer)
    if known is not None and known.state == now:
        return known
    with _LOCK:
        known = _COPIES.get(tokenizer)
        if known is not None and known.state == now:
            return known
        try:
            start = _copy(backend)
        except Exception:  # a custom Python component cannot be serialized
            return None
        never = prefix_off(start.pre_tokenizer)
        cont = start
        if never is not None:
            cont = _copy(backend)
            cont.pre_tokenizer = never
        made = Copies(now, start, cont, never is not None)
        _COPIES[tokenizer] = made
        return made


def state(backend: Any) -> Any:
    """What decides how ``backend`` tokenizes, cheaply: the object, its vocabulary size,
    normalizer, pre-tokenizer and added tokens (content and flags). ``None`` when a
    part cannot be read (a custom Python component)."""
    try:
        normalizer, pre = backend.normalizer, backend.pre_tokenizer
        added = backend.get_added_tokens_decoder()
        return (
            id(backend),
            backend.get_vocab_size(with_added_tokens=True),
            normalizer.__getstate__() if normalizer is not None else None,
            pre.__getstate__() if pre is not None else None,
            tuple(sorted((i, repr(t)) for i, t in added.items())),
        )
    except Exception:
        return None


def plain_backend(tokenizer: Any) -> Any:
    """The Rust backend of a tokenizers-backed transformers tokenizer whose class encodes
    the standard way, else ``None``."""
    try:
        import tokenizers
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # pragma: no cover - both ship with transformers
        return None
    backend = getattr(tokenizer, "_tokenizer", None)
    plain = (
        isinstance(tokenizer, TokenizersBackend)
        and type(tokenizer)._encode_plus is TokenizersBackend._encode_plus
        and isinstance(backend, tokenizers.Tokenizer)
    )
    return backend if plain else None


def _copy(backend: Any) -> Any:
    import tokenizers

    made = tokenizers.Tokenizer.from_str(backend.to_str())
    made.no_truncation()
    made.no_padding()
    made.encode_special_tokens = True
    return made


def prefix_off(pre_tokenizer: Any) -> Any:
    """``pre_tokenizer`` with its start-of-call prefix turned off, or ``None`` if it has
    none (only a Metaspace with ``prepend_scheme="first"``, alone or in a ``Sequence``,
    prefixes the first word of a call and no other)."""
    if pre_tokenizer is None or not callable(getattr(pre_tokenizer, "__getstate__", None)):
        return None
    try:
        tree = json.loads(pre_tokenizer.__getstate__())
    except Exception:  # a custom Python pre-tokenizer
        return None
    if not _first_to_never(tree):
        return None
    never = copy.copy(pre_tokenizer)  # then overwritten: the original stays untouched
    never.__setstate__(json.dumps(tree).encode())
    return never


def _first_to_never(node: Any) -> bool:
    """Rewrite every Metaspace ``prepend_scheme="first"`` in a pre-tokenizer's JSON."""
    found = False
    if isinstance(node, dict):
        if node.get("type") == "Metaspace" and node.get("prepend_scheme") == "first":
            node["prepend_scheme"] = "never"
            found = True
        for value in node.values():
            found = _first_to_never(value) or found
    elif isinstance(node, list):
        for value in node:
            found = _first_to_never(value) or found
    return found
