"""The MTA kinds mailzone renders DKIM signing configuration for: the one registry.

`mailzone rotate` and `mailzone mta KIND` look a kind up here; `KINDS` lists them. Each entry
names the module in `mailzone.mta` whose `render` is the kind's `Renderer`
(`mailzone.mta.renderer`); it is imported on first use, so the CLI can offer the choices
without loading the renderers. Adding an MTA: a module in `mailzone/mta/` with a `render`
function, an entry in `RENDERERS`, and the name in the host config's `mta.kind` choices
(`mailzone.spec.host.Mta`, which sits below this package and cannot import it;
`tests/unit/test_mta_renderers.py` checks that the two list the same kinds).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mailzone.errors import MailzoneError

if TYPE_CHECKING:
    from mailzone.mta.renderer import Renderer

RENDERERS: dict[str, str] = {  # kind -> module in mailzone.mta with its `render`
    "exim": "exim",
    "opendkim": "opendkim",
    "rspamd": "rspamd",
}
KINDS: tuple[str, ...] = tuple(RENDERERS)


def renderer(kind: str) -> Renderer:
    """The renderer of `kind`; MailzoneError naming the known kinds."""
    if kind not in RENDERERS:
        known = f"{', '.join(KINDS[:-1])} or {KINDS[-1]}"
        raise MailzoneError(f"unknown MTA {kind!r}: expected {known}")
    render: Renderer = importlib.import_module(f"mailzone.mta.{RENDERERS[kind]}").render
    return render
