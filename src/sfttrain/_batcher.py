"""Dynamic batching for the server: requests that arrive together decode together.

One worker thread owns the model. It takes the first waiting job, gathers whatever
else arrives within ``wait_s`` (up to ``max_batch`` jobs), groups them by sampling
settings and decodes each group as one left-padded ``generate`` call::

    t=0ms   job A arrives ──┐
    t=2ms   job B arrives ──┼── one batch [A, B, C] -> generate -> tokens stream back
    t=4ms   job C arrives ──┘   per row; a row that hits its stop string, EOS,
                                max_tokens or deadline is done, the batch ends when
                                every row is done

Tokens come back per decoding step through a streamer, so each job sees its text as
it grows (server-sent events) and stops on its own ``stop`` strings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Batcher", "Job", "Result"]


@dataclasses.dataclass(frozen=True)
class Result:
    """What a job produced: its text, token count and why it ended."""

    text: str
    tokens: int
    finish_reason: str


@dataclasses.dataclass(eq=False)
class Job:
    """One completion to decode; ``on_text(delta)`` (streaming; ``None`` when only the
    end matters) and ``on_done(result | error)`` are called from the worker thread."""

    prompt: Sequence[int]
    max_new_tokens: int
    stops: tuple[str, ...]
    on_text: Callable[[str], None] | None
    on_done: Callable[[Result | BaseException], None]
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    deadline: float = float("inf")
    tokens: list[int] = dataclasses.field(default_factory=list)
    sent: int = 0
    finish: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.do_sample, self.temperature, self.top_p) if self.do_sample else (False,)


class Batcher:
    """Owns ``model`` in a worker thread and decodes submitted jobs in dynamic batches."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_batch: int = 16,
        wait_s: float = 0.005,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_batch, self.wait_s, self.extra = max_batch, wait_s, dict(extra or {})
        self.batches: list[int] = []  # size of every batch decoded (for tests and stats)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sfttrain-batcher", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job``; its callbacks fire from the worker thread."""
        self._queue.put(job)

    def close(self, timeout: float = 30.0) -> None:
        """Finish the jobs already queued, then stop the worker."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = [first], False
            until = time.monotonic() + self.wait_s
            while len(jobs) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            groups: dict[tuple[Any, ...], list[Job]] = {}
            for job in jobs:
                groups.setdefault(job.key(), []).append(job)
            for group in groups.values():
                self._run(group)
            if stop:
                return

    def _run(self, jobs: list[Job]) -> None:
        now = time.monotonic()
        live = []
        for job in jobs:
            if job.deadline <= now:
                job.on_done(TimeoutError("request timed out waiting for the model"))
            else:
                live.append(job)
        if not live:
            return
        self.batches.append(len(live))
        try:
            self._generate(live)
        except Exception as e:  # one bad batch fails its jobs, never the worker
            for job in live:
                if job.finish is None:
                    job.on_done(e)
            return
        for job in live:
            self._finish(job, job.finish or "length")

    def _generate(self, jobs: list[Job]) -> None:
        from transformers import StoppingCriteria, StoppingCriteriaList

        from sfttrain._generate import generate_ids

        batcher = self

        class _Done(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                import torch

                now = time.monotonic()
                for job in jobs:
                    if job.finish is None and now >= job.deadline:
                        batcher._finish(job, "length")
                return torch.tensor([j.finish is not None for j in jobs], device=input_ids.device)

        first = jobs[0]
        generate_ids(
            self.model,
            self.tokenizer,
            [j.prompt for j in jobs],
            max_new_tokens=max(j.max_new_tokens for j in jobs),
            do_sample=first.do_sample,
            temperature=first.temperature,
            top_p=first.top_p,
            extra=self.extra,
            streamer=_Streamer(self, jobs),
            stopping_criteria=StoppingCriteriaList([_Done()]),
        )

    def _step(self, job: Job, token: int) -> None:
        """Add one generated token to ``job``; send the text that is final."""
        if job.finish is not None:
            return
        if token == self.tokenizer.eos_token_id:
            self._finish(job, "stop")
            return
        job.tokens.append(token)
        if job.on_text is None:  # not streamed: look for a stop string in the tail only
            reach = max((len(s) for s in job.stops), default=0) + 2  # tokens >= 1 char
            tail = self.tokenizer.decode(job.tokens[-reach:], skip_special_tokens=False)
            if any(s and s in tail for s in job.stops):
                self._finish(job, "stop")
            elif len(job.tokens) >= job.max_new_tokens:
                self._finish(job, "length")
            return
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=False)
        cut = min((k for s in job.stops if s and (k := text.find(s)) != -1), default=-1)
        if cut != -1:
            self._send(job, text[:cut])
            self._finish(job, "stop")
            return
        if len(job.tokens) >= job.max_new_tokens:
            self._send(job, text)
            self._finish(job, "length")
            return
        self._send(job, _settled(text, job.stops))

    def _send(self, job: Job, text: str) -> None:
        if job.on_text is not None and len(text) > job.sent:
            job.on_text(text[job.sent :])
            job.sent = len(text)

    def _finish(self, job: Job, reason: str) -> None:
        if job.finish is not None:
            return
        job.finish = reason
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=False)
        cut = min((k for s in job.stops if s and (k := text.find(s)) != -1), default=len(text))
        job.on_done(Result(text[: max(cut, 0)], len(job.tokens), reason))


def _settled(text: str, stops: Sequence[str]) -> str:
    """``text`` minus a tail that may still become a stop string or a multibyte char."""
    keep = len(text.rstrip("\ufffd"))
    for s in stops:
        for k in range(min(len(s) - 1, keep), 0, -1):
            if text[keep - k : keep] == s[:k]:
                keep -= k
                break
    return text[:keep]


class _Streamer:
    """transformers streamer: ``put`` gets the prompt once, then each step's new tokens."""

    def __init__(self, batcher: Batcher, jobs: list[Job]) -> None:
        self.batcher, self.jobs, self.prompt_seen = batcher, jobs, False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        rows = value.reshape(len(self.jobs), -1).tolist()
        for job, tokens in zip(self.jobs, rows, strict=True):
            for token in tokens:
                with contextlib.suppress(Exception):
                    self.batcher._step(job, int(token))

    def end(self) -> None:
        return
