"""`with` for the local brokers: started on the way in, stopped on the way out."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()  # a start that failed halfway leaves nothing running
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
