"""Request bodies of the OpenAI-compatible API and their checks (pydantic).

Every field is range-checked; a body that fails becomes a 400 JSON error in OpenAI's
shape (``{"error": {"message", "type", "param", "code"}}``) naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ChatRequest", "CompletionRequest", "Limits", "message_text"]


@dataclass(frozen=True)
class Limits:
    """Server limits: requests in flight, prompt tokens, new tokens, seconds, choices,
    requests per decoded batch.

    >>> Limits(max_tokens=0)
    Traceback (most recent call last):
    ...
    ValueError: max_tokens: expected a number > 0, got 0
    """

    max_concurrency: int = 64
    max_prompt_tokens: int = 2048
    max_tokens: int = 512
    request_timeout_s: float = 120.0
    max_n: int = 8
    max_batch: int = 16  # requests decoded together (1: one at a time)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{f.name}: expected a number > 0, got {value!r}")


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1)
    stream: bool = False
    stop: str | list[str] | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: Any) -> Any:
        stops = [v] if isinstance(v, str) else (v or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop: at most 4 non-empty strings")
        return v

    def stop_list(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def new_tokens(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[Message] = Field(min_length=1)


class CompletionRequest(_Sampling):
    """``POST /v1/completions``."""

    prompt: str | list[str]

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: Any) -> Any:
        if isinstance(v, list) and len(v) != 1:
            raise ValueError("prompt: one prompt per request (a string or a list of one)")
        return v

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


def message_text(message: Message) -> str:
    """A message's text: a string, or the ``text`` parts of a content list."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ValueError("messages: only text content parts are supported")
        parts.append(part["text"])
    return "".join(parts)
