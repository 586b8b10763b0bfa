"""From data files to what the trainer eats: sftdata parse -> steps -> encode -> pack | pad.

::

    train_files --read--> rows --parser + pipeline steps--> messages --dedup--> kept
         kept --sd.Encode(template, max_length, loss_on)--> input_ids / labels
              --sd.pack(max_length)--> packed rows (position_ids, seq_lens)   packing: true
              --sd.Collator(padding_side)--> padded batches                  packing: false

Every row dropped on the way keeps its ``drop_reason``; :class:`Prepared` carries the
counts per stage so the CLI can print them and the trainer can log them.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdata import DROP_REASON
from sftdata._rejects import ROW_LOCATION as LOCATED  # where a row was read from
from sfttrain.config import ConfigError, DataFile, TrainConfig

ENCODED_COLUMNS = ("input_ids", "labels", "attention_mask", "position_ids", "seq_lens")


@dataclass
class Prepared:
    """Training-ready rows plus what happened on the way (``counts``: stage -> rows kept)."""

    train: Any
    eval: Any | None
    counts: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    pack_efficiency: float | None = None


def _json_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``.json`` list or a JSONL file, each with its ``_location`` (``file:line``,
    or ``file#index`` in a ``.json`` list). A line (or list entry) that cannot be a row is
    a rejected row in the rejects format (``raw``, ``rejected_by="input"``) with the
    runner's reasons: ``input.bad_json``, ``input.not_an_object``, ``input.bad_utf8``. A
    file that cannot be read at all is a :class:`ConfigError` naming it."""
    from sftdata import SftDataError
    from sftdata.runner._io import jsonl_rows

    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: not a readable JSON file ({e})") from e
        if not isinstance(data, list):
            raise ConfigError(f"{path}: a .json data file must hold a list of rows")
        return [
            {**r, DROP_REASON: None, LOCATED: f"{path}#{i}"}
            if isinstance(r, dict)
            else _input_reject("input.not_an_object", json.dumps(r), f"{path}#{i}")
            for i, r in enumerate(data)
        ]
    try:
        rows, where, rejects = jsonl_rows(path)
    except SftDataError as e:  # a binary file
        raise ConfigError(str(e)) from e
    out = [{**row, DROP_REASON: None, LOCATED: w} for row, w in zip(rows, where, strict=True)]
    out += [_input_reject(r[DROP_REASON], r["raw"], r["location"]) for r in rejects]
    return out


def _input_reject(reason: str, raw: str, location: str) -> dict[str, Any]:
    return {"raw": raw, DROP_REASON: reason, "rejected_by": "input", LOCATED: location}


def resolve_step(spec: Any, index: int) -> Any:
    """Turn ``"clean.FixText"`` or ``{"step": "clean.QualityFilter", ...}`` into a step."""
    import sftdata as sd

    options = dict(spec) if isinstance(spec, dict) else {"step": spec}
    name = options.pop("step")
    module, _, cls_name = str(name).rpartition(".")
    try:
        cls = getattr(getattr(sd, module), cls_name)
    except (AttributeError, ImportError):
        raise ConfigError(f"pipeline[{index}]: no sftdata step {name!r}") from None
    try:
        return cls(**options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"pipeline[{index}] ({name}): {e}") from e


def parser_step(name: str) -> Any:
    """The batched ``sftdata.parse`` step for a row format name (``"alpaca"`` -> ``Alpaca()``)."""
    try:
        module = importlib.import_module("sftdata.parse")
    except ImportError:
        raise ConfigError(f"parser: sftdata.parse is not available for {name!r}") from None
    for attr in dir(module):
        if attr.lower() == name.lower() and attr[:1].isupper():
            return getattr(module, attr)()
    formats = sorted(a.lower() for a in dir(module) if a[:1].isupper() and not a.startswith("_"))
    raise ConfigError(f"parser: got {name!r}; allowed: {', '.join(formats)}")


def get_template(name: str, tokenizer: Any) -> Any:
    """A built-in sftdata template by name, or the tokenizer's own for ``"tokenizer"``."""
    import sftdata as sd

    if name == "tokenizer":
        return sd.templates.from_tokenizer(tokenizer)
    return sd.templates.get(name)


#: The columns a parsed file keeps beside ``messages`` (see :func:`parse_file`).
TRACE_COLUMNS = ("rejected_by", "source", LOCATED, "raw")


def parse_file(path: str, parser: str | None) -> Any:
    """One file's rows as ``messages`` + ``drop_reason`` (rejected rows included).

    The parser step runs on plain Python rows before anything goes to Arrow, so a
    malformed row (a number where text belongs, a string where a list belongs) is a
    rejected row with its reason rather than a schema error for the whole file.
    ``parser=None`` reads rows that already hold ``messages`` (the ``openai`` format).
    Every row keeps where it came from (:data:`TRACE_COLUMNS`: ``_location`` is
    ``file:line``, or ``file#row`` for Parquet; a rejected row also ``raw``, its input
    text, and ``rejected_by``, ``input`` or ``parse.<parser>``), so a rejects file
    leads back to the exact input line.
    """
    import datasets

    from sftdata._batch import rows_to_batch

    if Path(path).suffix == ".parquet":
        rows = [
            {**r, LOCATED: f"{path}#{i}"}
            for i, r in enumerate(datasets.Dataset.from_parquet(path).to_list())
        ]
    else:
        rows = _json_rows(Path(path))
    step = parser_step(parser or "openai")
    out = step(rows_to_batch(rows)) if rows else {"messages": [], DROP_REASON: []}
    n = len(out["messages"])
    by = [
        b or (f"parse.{parser or 'openai'}" if r is not None else None)
        for b, r in zip(out.get("rejected_by") or [None] * n, out[DROP_REASON], strict=True)
    ]
    trace = {c: [_text(v) for v in out.get(c) or [None] * n] for c in TRACE_COLUMNS}
    trace["rejected_by"] = by
    string = datasets.Value("string")
    return datasets.Dataset.from_dict(
        {"messages": out["messages"], DROP_REASON: out[DROP_REASON], **trace},
        features=datasets.Features(
            {
                "messages": [{"role": string, "content": string}],
                DROP_REASON: string,
                **{c: string for c in TRACE_COLUMNS},
            }
        ),
    )


def _text(value: Any) -> str | None:
    """A trace value as text (``raw`` may hold the parser's JSON of a bad row)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def to_messages(
    files: tuple[str | DataFile, ...], cfg: TrainConfig, dropped: Counter[str] | None = None
) -> tuple[Any, dict[str, int]]:
    """Parse every file, run the pipeline steps and dedup; kept rows and counts per stage
    (and each rejected row's reason counted into ``dropped``)."""
    import datasets

    import sftdata as sd

    parts = [
        parse_file(f, cfg.parser)
        if isinstance(f, str)
        else parse_file(f.path, f.parser or cfg.parser)
        for f in files
    ]
    ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    counts = {"read": len(ds), "parsed": sum(1 for r in ds[DROP_REASON] if r is None)}
    steps = tuple(resolve_step(s, i) for i, s in enumerate(cfg.pipeline))
    if steps:
        ds = sd.apply(ds, sd.Pipeline(steps))
        counts["pipeline"] = sum(1 for r in ds[DROP_REASON] if r is None)
    kept, rejected = sd.split_rejects(ds)
    _count(dropped, rejected)
    if cfg.dedup != "none":
        fn = sd.dedup.exact_dedup if cfg.dedup == "exact" else sd.dedup.minhash_dedup
        kept, rejected = fn(kept)
        _count(dropped, rejected)
        counts["dedup"] = len(kept)
    return kept, counts


def _count(dropped: Counter[str] | None, rejected: Any) -> None:
    if dropped is not None and len(rejected):
        dropped.update(rejected[DROP_REASON])


def encode(
    ds: Any, tokenizer: Any, template: Any, cfg: TrainConfig, dropped: Counter[str] | None = None
) -> Any:
    """``sd.Encode`` over every row; returns only the encoded kept rows (the reasons of
    the others counted into ``dropped``)."""
    import sftdata as sd

    step = sd.Encode(tokenizer, template, max_length=cfg.max_length, loss_on=cfg.loss_on)
    out = sd.apply(ds, step)
    kept, rejected = sd.split_rejects(out)
    _count(dropped, rejected)
    return kept.select_columns([c for c in ENCODED_COLUMNS if c in kept.column_names])


def pack_rows(ds: Any, max_length: int) -> tuple[Any, float]:
    """``sd.pack`` and the fraction of token slots the bins fill."""
    import sftdata as sd

    packed, _ = sd.pack(ds, max_length=max_length)
    eff = sd.pack_stats(packed, max_length=max_length).efficiency
    return packed.select_columns([c for c in ENCODED_COLUMNS if c in packed.column_names]), eff


def prepare(cfg: TrainConfig, tokenizer: Any, template: Any) -> Prepared:
    """Read, parse, filter, encode and (optionally) pack ``cfg``'s train and eval files.

    Raises :class:`ConfigError` when no training row is left, with the reasons the rows
    were dropped for (a template without a tool turn on tool conversations, a
    ``max_length`` shorter than every row, ...).
    """
    dropped: Counter[str] = Counter()
    rows, counts = to_messages(cfg.train_files, cfg, dropped)
    train = encode(rows, tokenizer, template, cfg, dropped)
    counts["encoded"] = len(train)
    if len(train) == 0:
        why = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common(5))
        raise ConfigError(
            f"no training rows left: {counts['read']} read, all dropped ({why or 'no rows'})"
        )
    eff = None
    if cfg.packing:
        train, eff = pack_rows(train, cfg.max_length)
        counts["packed rows"] = len(train)
    evaluation = None
    if cfg.eval_files:
        eval_rows, _ = to_messages(cfg.eval_files, cfg)
        evaluation = encode(eval_rows, tokenizer, template, cfg)
        counts["eval encoded"] = len(evaluation)
    return Prepared(
        train=train, eval=evaluation, counts=counts, dropped=dict(dropped), pack_efficiency=eff
    )


def collator(tokenizer: Any, cfg: TrainConfig) -> Any:
    """sftdata's collator: right padding for training (packed rows keep position_ids)."""
    import sftdata as sd

    return sd.Collator.for_tokenizer(tokenizer, padding_side=cfg.padding_side)
