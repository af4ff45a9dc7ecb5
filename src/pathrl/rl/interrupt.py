"""Ctrl-C between steps: the one way every pathrl trainer is interrupted.

    with GracefulInterrupt() as interrupt:
        for step in ...:
            ...one whole step...
            if interrupt.requested:
                save_checkpoint()
                raise KeyboardInterrupt

The first Ctrl-C only sets `requested`: the running step (a PPO update, an SFT epoch) finishes,
so the checkpoint written then is a whole state and resumes exactly. A second Ctrl-C raises
`KeyboardInterrupt` at once. Off the main thread (where signals cannot be caught) the context
does nothing and Ctrl-C behaves as usual.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class GracefulInterrupt:
    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
