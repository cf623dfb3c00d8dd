"""The MTA kinds mailzone renders DKIM signing configuration for: the one registry.

`mailzone rotate` and `mailzone mta KIND` look a kind up here; `KINDS` lists them (cheap to
import: the renderers import nothing heavy). Adding an MTA: a module in `mailzone/mta/` with a
`Renderer` (`mailzone.mta.renderer`), an entry in `RENDERERS`, and the name in the host config's
`mta.kind` choices (`mailzone.spec.host.Mta`, which sits below this package and cannot import it;
`tests/unit/test_mta_renderers.py` checks that the two list the same kinds).
"""

from __future__ import annotations

from mailzone.errors import MailzoneError
from mailzone.mta import exim, opendkim, rspamd
from mailzone.mta.renderer import Renderer

RENDERERS: dict[str, Renderer] = {
    "exim": exim.render,
    "opendkim": opendkim.render,
    "rspamd": rspamd.render,
}
KINDS: tuple[str, ...] = tuple(RENDERERS)


def renderer(kind: str) -> Renderer:
    """The renderer of `kind`; MailzoneError naming the known kinds."""
    try:
        return RENDERERS[kind]
    except KeyError:
        known = f"{', '.join(KINDS[:-1])} or {KINDS[-1]}"
        raise MailzoneError(f"unknown MTA {kind!r}: expected {known}") from None
