"""The one exception family mailzone shows to users, and its exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CHECK_FAILED = 3
EXIT_INCONCLUSIVE = 4  # check: nothing failed, but a family that had to be checked could not be


def one_line(text: str) -> str:
    """`text` with every unprintable character (a control character, a line or paragraph
    separator, a tab) written as its escape: a message quoting a value stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class MailzoneError(Exception):
    """A user-facing error: one line naming where (file:line: field) and what is wrong.

    `location` is `file:line`, `file` or a description (`built-in provider 'local'`); `file`
    and `line` are its parts. `details`: every line to show when one error stands for several
    (validation lists each problem); by default the one line."""

    def __init__(
        self, message: str, location: str | None = None, details: list[str] | None = None
    ) -> None:
        self.message = message
        self.location = location
        super().__init__(str(self))
        self.details: list[str] = list(details) if details else [str(self)]

    def __str__(self) -> str:
        if self.location:
            return f"{self.location}: {self.message}"
        return self.message

    @property
    def file(self) -> str | None:
        """The file named by `location`, if any."""
        if not self.location:
            return None
        head, sep, tail = self.location.rpartition(":")
        return head if sep and tail.isdigit() else self.location

    @property
    def line(self) -> int | None:
        """The line named by `location`, if any."""
        _, sep, tail = (self.location or "").rpartition(":")
        return int(tail) if sep and tail.isdigit() else None


class SpecError(MailzoneError):
    """A zone spec, state or provider file is invalid."""


class ProviderError(MailzoneError):
    """A DNS provider could not be built, read or written."""


class GuardError(MailzoneError):
    """A plan would break mail (delete the last MX, SPF, DMARC or an active DKIM key)."""


class AdoptError(MailzoneError):
    """A plan would replace live records that mailzone did not create."""
