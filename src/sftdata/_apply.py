"""``sd.apply``: run a step over a ``datasets.Dataset`` with the output types pinned.

``datasets`` fixes a column's Arrow type from the first batch it writes. A filter
whose first batch keeps every row writes ``drop_reason = [None, None, ...]`` (type
``null``), and the first real reason later fails the whole map. ``apply`` avoids that
by passing ``features=``: the step's own ``features(input_features)`` when it has one,
else the contract's column types (``drop_reason`` is a string, ``input_ids`` int32, ...)
over types inferred from a first sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sftdata._contract import DROP_REASON, MESSAGES, TEXT, Batch, SftDataError

Step = Callable[[Batch], Batch]


def contract_features() -> dict[str, Any]:
    """The ``datasets`` feature of every column the data contract names."""
    import datasets

    string, i32 = datasets.Value("string"), datasets.Value("int32")
    return {
        MESSAGES: datasets.List({"role": string, "content": string}),
        TEXT: string,
        DROP_REASON: string,
        "raw": string,
        "input_ids": datasets.List(i32),
        "labels": datasets.List(i32),
        "attention_mask": datasets.List(datasets.Value("int8")),
        "position_ids": datasets.List(i32),
        "seq_lens": datasets.List(i32),
    }


def output_features(step: Step, ds: Any, *, sample_rows: int = 16) -> Any:
    """Features of every column ``step`` returns (new, rewritten or carried through).

    The step runs once on the first ``sample_rows`` rows to learn which columns it
    returns (a bad step or the wrong parser fails here, before the real work). Each
    column is typed by, in order: the step's own ``features(ds.features)``, the input's
    type for a carried column, the contract's type, the sample (``null`` -> string).
    """
    import datasets
    import pyarrow as pa

    declared = dict(step.features(ds.features)) if hasattr(step, "features") else {}
    sample = step(ds[: min(sample_rows, len(ds))]) if len(ds) else {}
    known = contract_features()
    null = datasets.Value("null")
    out: dict[str, Any] = dict(declared)
    for col, values in sample.items():
        if col in out:
            continue
        if col in ds.features and ds.features[col] != null:
            out[col] = ds.features[col]
        elif col in known:
            out[col] = known[col]
        else:
            inferred = datasets.Features.from_arrow_schema(pa.table({col: list(values)}).schema)
            out[col] = datasets.Value("string") if inferred[col] == null else inferred[col]
    return datasets.Features(out)


def apply(
    ds: Any,
    step: Step,
    *,
    remove_columns: list[str] | Literal["input"] | None = None,
    batch_size: int = 1000,
    num_proc: int | None = None,
    desc: str | None = None,
    **map_kwargs: Any,
) -> Any:
    """``ds.map(step, batched=True, ...)`` with the output column types pinned.

    ``remove_columns="input"`` drops every input column the step does not return
    (what a parser wants: the raw fields survive in ``raw`` on rejected rows).

    >>> import datasets, sftdata as sd
    >>> ds = datasets.Dataset.from_dict({"instruction": ["Hi", "Yo"], "output": ["Hello!", None]})
    >>> out = sd.apply(ds, sd.parse.Alpaca(), remove_columns="input")
    >>> out.column_names
    ['messages', 'drop_reason', 'raw']
    >>> list(out["drop_reason"])
    [None, 'parse.missing_field:output']
    """
    if not callable(step):
        raise SftDataError(f"step must be callable, got {type(step).__name__}")
    if batch_size < 1:
        raise SftDataError(f"batch_size must be >= 1, got {batch_size}")
    new = output_features(step, ds)
    if remove_columns == "input":
        remove = [c for c in ds.column_names if c not in new]
    else:
        remove = list(remove_columns or [])
    unknown = [c for c in remove if c not in ds.column_names]
    if unknown:
        raise SftDataError(
            f"remove_columns {unknown} are not columns of the dataset {ds.column_names}"
        )
    import datasets

    kept_input = {c: ds.features[c] for c in ds.column_names if c not in remove and c not in new}
    features = datasets.Features({**kept_input, **new})
    return ds.map(
        step,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=remove or None,
        features=features,
        desc=desc or type(step).__name__,
        **map_kwargs,
    )
