"""Train from a YAML config and SIGKILL this very process right after step ``kill_at``:
no exception handling, no cleanup, as when a job is killed by its scheduler."""

from __future__ import annotations

import os
import signal
import sys


def main(config: str, kill_at: int) -> None:
    from transformers import TrainerCallback

    import sfttrain
    from sfttrain import Prepared
    from tests.train.conftest import encoded_rows

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            if state.global_step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = sfttrain.TrainConfig.from_yaml(config)
    tokenizer = sfttrain.load_tokenizer(cfg.model)
    sfttrain.train(cfg, prepared=Prepared(encoded_rows(tokenizer), None), callbacks=[Kill()])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
