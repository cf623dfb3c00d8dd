"""The extension point for MTAs: a `Renderer` turns what to sign into configuration files.

Every MTA kind is one module (`exim.py`, `opendkim.py`, `rspamd.py`) with one renderer, listed
in `mailzone.mta.kinds`. Renderers do not import each other; what they share is here (the files
they return) and in `mailzone.mta.signing` (what they are given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mailzone.errors import MailzoneError
from mailzone.mta.signing import Signing

if TYPE_CHECKING:
    from mailzone.spec.host import HostConfig

BEGIN_MARKER = "# BEGIN mailzone"
END_MARKER = "# END mailzone"


class Renderer(Protocol):
    """Render one MTA kind's DKIM signing configuration: `renderer(signing, algorithms, host)`.

    Called by `mailzone rotate` (which writes the files and runs `host.mta.reload` when their text
    changes) and by `mailzone mta KIND` (which prints them).

    - `signing`: the domains this host signs, sorted, each with its active selectors (RSA
      first); check and normalise them with `signing.checked` or `signing.resolve_keys`.
    - `algorithms`: selector → `"rsa"` or `"ed25519"`, for every selector in `signing`.
    - `host`: the host config (`mailzone.spec.host.HostConfig`): `host.key_path` is the key
      directory (keys are `<domain>.<selector>.pem`), `host.path(text)` resolves a configured
      path, `host.mta` holds the kind's settings (add a field there for a new one).

    Return every file the MTA needs, in a fixed order: an `MtaFile` with the file's whole text,
    or with `block=True` a `# BEGIN mailzone` ... `# END mailzone` block that is merged into a
    file the admin owns (the rest of it is kept). Same input, same text: an unchanged file is
    not written and the MTA not reloaded. Read nothing, write nothing; raise `MailzoneError`
    saying what is wrong and how to fix it when the MTA could not use a name or path.

    Example, the `exim` kind (`mailzone.mta.exim.render`, registered as `"exim": exim.render`
    in `mailzone.mta.kinds.RENDERERS`, its name among the host config's `mta.kind` choices)::

        def render(signing, algorithms, host):
            mta = host.mta
            files = render_exim(signing, host.key_path, host.path(mta.lookup_file), mta.strict)
            return [
                MtaFile(files.lookup_file, files.lookup_text),
                MtaFile(host.path(mta.macros_file), files.macros_block, block=True),
            ]
    """

    def __call__(
        self, signing: list[Signing], algorithms: Mapping[str, str], host: HostConfig, /
    ) -> list[MtaFile]: ...


@dataclass(frozen=True)
class MtaFile:
    """One file of MTA configuration: its full new text, or a marked block merged into it."""

    path: Path
    text: str
    block: bool = False  # `text` is a marked block to merge into whatever the file holds

    def merged(self) -> str:
        """The file's text after the change."""
        if not self.block:
            return self.text
        try:
            existing = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = ""
        except OSError as err:
            raise MailzoneError(f"{self.path}: cannot read: {err.strerror}") from None
        return merge_block(existing, self.text, what=str(self.path))


def merge_block(existing_text: str, block: str, what: str) -> str:
    """`existing_text` with its mailzone block replaced by `block` (appended if there is none).

    Every line outside the markers is kept as it was; the result ends with a newline (Debian
    concatenates exim4.conf.localmacros before the template, so a missing newline glues the last
    macro to the template's first comment line). MailzoneError if the markers are unbalanced."""
    block = block if block.endswith("\n") else block + "\n"
    lines = existing_text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.startswith(BEGIN_MARKER)]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == END_MARKER]
    if not begins and not ends:
        head = "".join(lines)
        if head and not head.endswith("\n"):
            head += "\n"
        return head + block
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise MailzoneError(
            f"{what}: expected one '{BEGIN_MARKER}' line followed by one "
            f"'{END_MARKER}' line, found {len(begins)} and {len(ends)}; repair the markers by hand"
        )
    before = "".join(lines[: begins[0]])
    after = "".join(lines[ends[0] + 1 :])
    if after and not after.endswith("\n"):
        after += "\n"
    return before + block + after
