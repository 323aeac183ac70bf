"""The one exception the codec raises for payloads that do not fit the contract."""

from __future__ import annotations

from processor.domain.model import ErrorType


class DecodeError(Exception):
    """A payload that cannot become a domain object; becomes a dead letter upstream."""

    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class FieldError(Exception):
    """A value that does not fit its field; `path` grows as it propagates outwards."""

    def __init__(self, detail: str, path: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.path = path

    def within(self, name: str) -> FieldError:
        """Prefix the path with the enclosing field name (or `[i]` for an array item)."""
        if not self.path:
            self.path = name
        elif self.path.startswith("["):
            self.path = name + self.path
        else:
            self.path = f"{name}.{self.path}"
        return self

    def to_decode_error(self) -> DecodeError:
        where = f"field '{self.path}': " if self.path else ""
        return DecodeError(ErrorType.INVALID_RECORD, where + self.detail)
