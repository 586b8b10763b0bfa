"""A fast (tokenizers-backed) tokenizer that tokenizes exactly like a sentencepiece model.

transformers 5.x builds ``LlamaTokenizer`` from a folder holding only
``tokenizer.model`` with its BPE merges ranked by piece id. sentencepiece ranks a merge
by the *score* of the merged piece, and the LLaMA model gives its whitespace-run pieces
(``▁▁``, ``▁▁▁▁``, ...) the lowest score of all while their ids are among the first, so
that tokenizer merges runs of spaces before words::

    text            "\\n    return"
    sentencepiece   ▁ <0x0A> ▁▁▁ ▁return      (what the model saw in pretraining)
    id-ranked BPE   ▁ <0x0A> ▁▁▁▁ return

:func:`fast_from_sentencepiece` reads the model file and builds the tokenizer the
sentencepiece way: the legacy normalizer (a ``▁`` prepended to the text, spaces
replaced by ``▁``), no pre-tokenizer, merges ordered by the merged piece's score, byte
fallback, and the control pieces as special tokens.
"""

from __future__ import annotations

import functools
import threading
import warnings
from pathlib import Path
from typing import Any

from sftdata._contract import SftDataError
from sftdata._tokenizer_copies import plain_backend, state

__all__ = [
    "PROBES",
    "fast_from_sentencepiece",
    "first_difference",
    "load_sentencepiece_model",
    "sentencepiece_path",
    "warn_if_unlike_sentencepiece",
]

#: (name, text) probes on which a fast tokenizer and its sentencepiece model must agree.
PROBES: tuple[tuple[str, str], ...] = (
    ("indentation", "def f(x):\n    return x"),
    ("deep indentation", "\n        if x:\n            pass"),
    ("whitespace run", "a" + " " * 7 + "b" + " " * 16 + "c"),
    ("leading spaces", "  leading"),
    ("leading space", " word"),
    ("trailing spaces", "end   "),
    ("tabs", "\tx\t\ty\n\t\t\tz"),
    ("newlines", "a\n\nb\r\nc\n"),
    ("unicode", "naïve café, Ωμέγα, 漢字, ünïcödé"),
    ("byte fallback", "🤖 \u2028 \x07 \U0001f600"),
    ("digits", "3.14159 2024 1,000,000 0x1F"),
    ("mixed", "x = {'a': [1, 2]}  # comment\n\treturn"),
)
#: The probe :func:`warn_if_unlike_sentencepiece` tokenizes (one short call each way).
QUICK_PROBE = "\n    return  x\n\t\ty"

# sentencepiece's ModelProto.SentencePiece.Type values
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_BPE = 2


def load_sentencepiece_model(model_path: str | Path) -> Any:
    """The parsed ``ModelProto`` of a sentencepiece model file."""
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SftDataError(
            "reading a sentencepiece model needs `pip install sentencepiece protobuf`"
        ) from e
    path = Path(model_path)
    if not path.is_file():
        raise SftDataError(f"no sentencepiece model at {str(path)!r}")
    model = pb.ModelProto()  # type: ignore[attr-defined]
    try:
        model.ParseFromString(path.read_bytes())
    except Exception as e:  # a protobuf DecodeError: not a model file
        raise SftDataError(f"{str(path)!r} is not a sentencepiece model: {e}") from e
    return model


def _merges(vocab: dict[str, int], scores: dict[str, float]) -> list[tuple[str, str]]:
    """Every (left, right) pair whose join is a piece, ranked like sentencepiece: by the
    merged piece's score (highest first), then by the merged piece's id."""
    ranked: list[tuple[float, int, int, tuple[str, str]]] = []
    for piece, pid in vocab.items():
        if piece not in scores:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                ranked.append((-scores[piece], pid, vocab[left], (left, right)))
    ranked.sort()
    return [pair for *_, pair in ranked]


def fast_from_sentencepiece(model_path: str | Path, **special_tokens: Any) -> Any:
    """A ``PreTrainedTokenizerFast`` whose ids equal ``sentencepiece`` encode on any text.

    ``special_tokens`` (``bos_token=``, ``eos_token=``, ``pad_token=``, ...) override the
    model's own control pieces and are passed to the tokenizer; as with LLaMA's
    tokenizers, a call with ``add_special_tokens=True`` prepends the BOS.

    >>> tok = fast_from_sentencepiece(getfixture("sp_model_path"))
    >>> tok.convert_ids_to_tokens(tok.encode("\\n    return", add_special_tokens=False))
    ['▁', '<0x0A>', '▁▁▁', '▁return']
    >>> tok.decode(tok.encode("Hello  world"), skip_special_tokens=True)
    'Hello  world'
    """
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    model = load_sentencepiece_model(model_path)
    if model.trainer_spec.model_type != _BPE:
        raise SftDataError(
            f"{str(model_path)!r} is not a BPE sentencepiece model (model_type "
            f"{model.trainer_spec.model_type}); only BPE models (LLaMA, Mistral) are supported"
        )
    norm = model.normalizer_spec
    if norm.name not in ("identity", "") or norm.remove_extra_whitespaces:
        raise SftDataError(
            f"{str(model_path)!r} normalizes text ({norm.name!r}); only the identity "
            "normalizer of LLaMA-style models is supported"
        )
    vocab = {p.piece: i for i, p in enumerate(model.pieces)}
    scores = {p.piece: p.score for p in model.pieces if p.type in (_NORMAL, _USER_DEFINED)}
    unk = model.trainer_spec.unk_piece or "<unk>"
    backend = Tokenizer(
        BPE(
            vocab,
            _merges(vocab, scores),
            unk_token=unk,
            fuse_unk=True,
            byte_fallback=model.trainer_spec.byte_fallback,
        )
    )
    steps: list[Any] = [normalizers.Replace(" ", "▁")]
    if norm.add_dummy_prefix:
        steps.insert(0, normalizers.Prepend("▁"))
    backend.normalizer = normalizers.Sequence(steps)
    backend.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            *([decoders.Strip(" ", 1, 0)] if norm.add_dummy_prefix else []),
        ]
    )
    control = [p.piece for p in model.pieces if p.type in (_UNKNOWN, _CONTROL)]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    names = {"unk_token": unk}
    for name, pid in (("bos_token", model.trainer_spec.bos_id), ("eos_token", None)):
        pid = model.trainer_spec.eos_id if pid is None else pid
        if 0 <= pid < len(model.pieces):
            names[name] = model.pieces[pid].piece
    names.update(special_tokens)
    bos = names.get("bos_token")
    if isinstance(bos, str) and bos in vocab:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    return PreTrainedTokenizerFast(tokenizer_object=backend, **names)


def sentencepiece_path(tokenizer: Any) -> Path | None:
    """The sentencepiece model a tokenizer was loaded from, if there is one: its
    ``vocab_file`` or the ``tokenizer.model`` in its ``name_or_path`` folder."""
    for candidate in (
        getattr(tokenizer, "vocab_file", None),
        Path(str(getattr(tokenizer, "name_or_path", "") or "")) / "tokenizer.model",
    ):
        if candidate and str(candidate).endswith(".model") and Path(candidate).is_file():
            return Path(candidate)
    return None


def _pieces(ids: list[int], to_piece: Any, at: int) -> list[str]:
    return [to_piece(i) for i in ids[max(0, at - 2) : at + 4]]


def first_difference(tokenizer: Any, sp: Any, probes: Any = PROBES) -> tuple[str, ...] | None:
    """The first probe on which ``tokenizer`` and the SentencePieceProcessor ``sp`` give
    different ids: ``(name, text, tokenizer pieces, sentencepiece pieces)`` around the
    first differing token, or ``None`` when all agree."""
    for name, text in probes:
        ours = list(tokenizer.encode(text, add_special_tokens=False))
        theirs = list(sp.encode(text))
        if ours != theirs:
            at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), 0)
            mine = _pieces(ours, lambda i: tokenizer.convert_ids_to_tokens(int(i)), at)
            return name, text, " ".join(mine), " ".join(_pieces(theirs, sp.id_to_piece, at))
    return None


@functools.lru_cache(maxsize=8)
def _processor(path: str) -> Any:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=path)


_CHECKED: dict[Any, bool] = {}
_CHECKED_LOCK = threading.Lock()


def warn_if_unlike_sentencepiece(tokenizer: Any) -> bool:
    """Warn (once per tokenizer state) when ``tokenizer`` tokenizes :data:`QUICK_PROBE`
    unlike the sentencepiece model beside it; ``True`` when it differs. Free when there
    is no such model, sentencepiece is not installed, or this state was checked."""
    backend = plain_backend(tokenizer)
    key = state(backend) if backend is not None else None
    if key is None:
        return False
    with _CHECKED_LOCK:
        if key in _CHECKED:
            return _CHECKED[key]
    path = sentencepiece_path(tokenizer)
    differs = False
    if path is not None:
        try:
            diff = first_difference(tokenizer, _processor(str(path)), (("probe", QUICK_PROBE),))
        except Exception:  # no sentencepiece, or an unreadable model: nothing to say
            diff = None
        if diff is not None:
            differs = True
            warnings.warn(
                f"the tokenizer differs from its sentencepiece model {path} on "
                f"{QUICK_PROBE!r}: {diff[2]} vs {diff[3]}; indented code gets ids the model "
                "never saw in pretraining. Rebuild it with "
                "sd.tokenize.fast_from_sentencepiece(path) (see `sftdata doctor`)",
                UserWarning,
                stacklevel=4,
            )
    with _CHECKED_LOCK:
        if len(_CHECKED) > 256:
            _CHECKED.clear()
        _CHECKED[key] = differs
    return differs
