"""The one exception family mailzone shows to users, and its exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CHECK_FAILED = 3


class MailzoneError(Exception):
    """A user-facing error: one line naming where (file:line: field) and what is wrong."""

    def __init__(self, message: str, location: str | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.location:
            return f"{self.location}: {self.message}"
        return self.message


class SpecError(MailzoneError):
    """A zone spec, state or provider file is invalid."""


class ProviderError(MailzoneError):
    """A DNS provider could not be built, read or written."""


class GuardError(MailzoneError):
    """A plan would break mail (delete the last MX, SPF, DMARC or an active DKIM key)."""


class AdoptError(MailzoneError):
    """A plan would replace live records that mailzone did not create."""
