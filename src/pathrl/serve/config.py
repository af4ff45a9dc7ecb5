"""What an operator sets for `pathrl serve` (limits, token, CORS, batching)."""

from __future__ import annotations

from dataclasses import dataclass

from pathrl.errors import PathrlError


@dataclass(frozen=True)
class ServeConfig:
    """Settings of the HTTP API (`create_app`); every limit answers a clear 4xx when crossed.

    - `token`: when set, every endpoint but /health and the pages (/, /docs, /openapi.json)
      needs `Authorization: Bearer <token>` (401 otherwise).
    - `max_body_bytes`: the largest request body; a larger one is refused with 413.
    - `max_questions`: the most questions one /route request may carry (422 above).
    - `max_question_chars`: the longest question accepted (422 above).
    - `row_limit`: the most rows /query returns (its `limit` may only lower it); `count`
      always says how many rows the query found and `truncated` whether some were left out.
    - `request_timeout_s`: a /route or /query request still running after this many seconds
      is answered 504.
    - `cors_origins`: origins allowed to call the API from a browser; empty (the default)
      sends no CORS headers at all (same-origin only).
    - `batch_window_ms`: how long the router waits for more /route and /query questions
      before one batched model call (concurrent requests share it).
    - `max_batch_questions`: the most questions merged into one model call.
    """

    token: str | None = None
    max_body_bytes: int = 64 * 1024
    max_questions: int = 64
    max_question_chars: int = 1000
    row_limit: int = 100
    request_timeout_s: float = 10.0
    cors_origins: tuple[str, ...] = ()
    batch_window_ms: float = 5.0
    max_batch_questions: int = 256

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise PathrlError("the API token must not be empty (omit it to serve without one)")
        positive = {"max_body_bytes": self.max_body_bytes, "max_questions": self.max_questions,
                    "max_question_chars": self.max_question_chars,
                    "row_limit": self.row_limit, "request_timeout_s": self.request_timeout_s,
                    "max_batch_questions": self.max_batch_questions}
        for name, value in positive.items():
            if value <= 0:
                raise PathrlError(f"{name} must be > 0, got {value}")
        if self.batch_window_ms < 0:
            raise PathrlError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if self.max_batch_questions < self.max_questions:
            raise PathrlError(f"max_batch_questions ({self.max_batch_questions}) must be >= "
                              f"max_questions ({self.max_questions})")
