"""The engines the runner picks from: local (this process, :mod:`._local`) and Ray.

Ray is an optional extra: nothing here imports ``ray`` until a function is called.

>>> from sftdata.engines import ArrowBatchStep
>>> import pyarrow as pa
>>> upper = lambda b: {"text": [t.upper() for t in b["text"]]}
>>> ArrowBatchStep(upper)(pa.table({"text": ["a", "b"]})).to_pydict()
{'text': ['A', 'B']}
"""

from sftdata.engines._ray import (
    ArrowBatchStep,
    StepActor,
    actor_map_batches,
    init_ray,
    map_batches,
    ray_map_table,
)
from sftdata.engines._ray_dedup import ray_global

__all__ = [
    "ArrowBatchStep",
    "StepActor",
    "actor_map_batches",
    "init_ray",
    "map_batches",
    "ray_global",
    "ray_map_table",
]
