"""Run sftdata steps on Ray Data.

Every row step runs through one adapter that converts an Arrow batch to the
``dict[str, list]`` a step expects and back, the same conversion the local engine
uses, so a Ray run and a local run produce the same rows::

    ray.data.Dataset --map_batches(ArrowBatchStep(step), batch_format="pyarrow")--> ray.data.Dataset

Model-backed steps (a classifier) are built once per actor with
:func:`actor_map_batches`. Global passes with a Ray implementation (exact and MinHash
dedup) run distributed; others run on the driver with ``datasets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sftdata._contract import Batch, SftDataError
from sftdata.engines._local import apply_to_table, concat, slices


@dataclass(frozen=True)
class ArrowBatchStep:
    """Wrap a batch step (``dict[str, list] -> dict[str, list]``) as a Arrow-table function."""

    step: Callable[[Batch], Batch]

    def __call__(self, table: pa.Table) -> pa.Table:
        return apply_to_table(self.step, table)


class StepActor:
    """A Ray actor that builds its step once (``factory()``) and applies it to batches."""

    def __init__(self, factory: Callable[[], Callable[[Batch], Batch]]) -> None:
        self._step = ArrowBatchStep(factory())

    def __call__(self, table: pa.Table) -> pa.Table:
        return self._step(table)


def init_ray(*, address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join, with ``address``) Ray once; a second call is a no-op."""
    try:
        import ray
    except ImportError:
        raise SftDataError("the Ray engine needs `pip install sftdata[ray]`") from None
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is not None:
        kwargs["address"] = address
    else:
        kwargs["num_cpus"] = num_cpus
    ray.init(**kwargs)


def map_batches(ds: Any, step: Callable[[Batch], Batch], *, batch_size: int = 256) -> Any:
    """``ds.map_batches`` for any sftdata step (pyarrow batches in and out, order kept)."""
    if not callable(step):
        raise TypeError(f"step must be callable, got {step!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return ds.map_batches(ArrowBatchStep(step), batch_format="pyarrow", batch_size=batch_size)


def actor_map_batches(
    ds: Any,
    factory: Callable[[], Callable[[Batch], Batch]],
    *,
    num_actors: int = 1,
    batch_size: int = 256,
) -> Any:
    """Apply a step built by ``factory`` inside ``num_actors`` long-lived actors."""
    if num_actors < 1:
        raise ValueError(f"num_actors must be >= 1, got {num_actors}")
    return ds.map_batches(
        StepActor,
        fn_constructor_args=(factory,),
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=num_actors,
    )


def _ordered() -> None:
    import ray.data

    ray.data.DataContext.get_current().execution_options.preserve_order = True


def to_ray(table: pa.Table, *, blocks: int = 4) -> Any:
    """An Arrow table as a Ray dataset of about ``blocks`` blocks, row order kept."""
    import ray.data

    _ordered()
    rows = max(1, -(-table.num_rows // blocks))
    return ray.data.from_arrow(list(slices(table, rows)))


def from_ray(ds: Any) -> pa.Table:
    """Collect a Ray dataset into one Arrow table on the driver, in order."""
    import ray

    return concat(ray.get(ds.to_arrow_refs()))


def ray_map_table(fn: Callable[[Batch], Batch], table: pa.Table, *, batch_size: int) -> pa.Table:
    """Apply ``fn`` to ``table`` on Ray, batch by batch; the result equals the local engine's."""
    init_ray()
    if table.num_rows == 0:
        return table
    return from_ray(map_batches(to_ray(table), fn, batch_size=batch_size))
