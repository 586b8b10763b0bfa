"""Run under ``torchrun --nproc_per_node 2``: train from a YAML config, then each rank
writes what it ended with (a checksum of its trainable weights, its logged losses)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(config: str, out_dir: str) -> None:
    import torch
    from transformers import TrainerCallback

    import sfttrain

    seen: dict[str, float] = {}

    class Checksum(TrainerCallback):
        """This rank's own in-memory trainable weights at the end (not the saved copy)."""

        def on_train_end(self, args, state, control, model=None, **kw):  # type: ignore[no-untyped-def]
            trained = [p.detach().double() for p in model.parameters() if p.requires_grad]
            seen["checksum"] = float(sum((w * w).sum() + w.sum() for w in trained))

    result = sfttrain.train(sfttrain.TrainConfig.from_yaml(config), callbacks=[Checksum()])
    rank = int(os.environ.get("RANK", "0"))
    checksum = seen["checksum"]
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    record = {"rank": rank, "world": world, "checksum": checksum, "losses": list(result.losses)}
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
