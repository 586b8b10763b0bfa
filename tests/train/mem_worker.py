"""Train 2 steps of full-length rows; print how far resident memory grows from the start
of training (model loaded) to the process's peak: the optimizer states, gradients and
activations that ``sfttrain plan`` estimates, measured on CPU."""

from __future__ import annotations

import json
import sys


def main(config: str) -> None:
    import datasets
    import psutil
    import torch

    import sfttrain
    from sfttrain import Prepared

    torch.set_num_threads(1)
    cfg = sfttrain.TrainConfig.from_yaml(config)
    n = cfg.batch_size * 2
    ids = [[1] + [100 + (i * 7 + j) % 3000 for j in range(cfg.max_length - 1)] for i in range(n)]
    data = datasets.Dataset.from_dict({"input_ids": ids, "labels": ids})
    from transformers import TrainerCallback

    seen = {}

    class AtStart(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            # Start the peak here: loading and imports can peak higher than training
            # itself, and the lifetime peak (ru_maxrss) would then count them too.
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the peak resident size (VmHWM)
            seen["start"] = psutil.Process().memory_info().rss

    sfttrain.train(cfg, prepared=Prepared(data, None), callbacks=[AtStart()])
    before = seen["start"]
    with open("/proc/self/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM:"))
    peak = int(hwm.split()[1]) * 1024  # kB
    print("MEASURED " + json.dumps({"bytes": peak - before}))


if __name__ == "__main__":
    main(sys.argv[1])
