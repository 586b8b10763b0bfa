"""Pretrain from a YAML config. ``kill N``: SIGKILL this process right after step N.
``record DIR`` (under torchrun): each rank writes the block numbers it was served."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def main(config: str, mode: str, arg: str) -> None:
    from transformers import TrainerCallback

    import sfttrain

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            if state.global_step == int(arg):
                os.kill(os.getpid(), signal.SIGKILL)

    served: list[int] = []

    class Record(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):  # type: ignore[no-untyped-def]
            train_dataloader.dataset.record = served

    callback = Kill() if mode == "kill" else Record()
    sfttrain.train(sfttrain.TrainConfig.from_yaml(config), callbacks=[callback])
    if mode == "record":
        rank = int(os.environ.get("RANK", "0"))
        Path(arg, f"blocks{rank}.json").write_text(json.dumps(served))


if __name__ == "__main__":
    main(*sys.argv[1:4])
