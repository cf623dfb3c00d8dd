"""TLS servers on 127.0.0.1 for the live checks, with certificates from a test CA (trustme):
a STARTTLS SMTP server (aiosmtpd) that counts its connections, and an HTTPS server whose one
answer (status, headers, body) a test sets. `mailzone check --connect` dials them in place of
the hosts' public addresses and `--ca-file` trusts the CA."""

from __future__ import annotations

import contextlib
import http.server
import ssl
import threading
from collections.abc import Iterator

import trustme
from aiosmtpd.controller import Controller

from tests.servers import LOOPBACK, free_port


class Sink:
    """aiosmtpd's handler: accept everything; `peers` are the clients that said EHLO (one
    per connection: each has its own source port)."""

    def __init__(self) -> None:
        self.peers: set[object] = set()

    async def handle_EHLO(
        self, server: object, session: object, envelope: object, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peers.add(getattr(session, "peer", None))
        return responses

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def context_for(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side context presenting `cert`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@contextlib.contextmanager
def smtp_server(
    context: ssl.SSLContext | None, name: str, sink: Sink | None = None
) -> Iterator[int]:
    """An SMTP server announcing `name`, offering STARTTLS with `context` (None: no STARTTLS);
    its port."""
    port = free_port()
    params = {"tls_context": context} if context else {}
    controller = Controller(
        sink or Sink(), hostname=LOOPBACK, port=port, server_hostname=name, **params
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class WebSite:
    """An HTTPS server answering every GET with `status`, `headers` and `body`; `paths` are
    the paths asked for, in order."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.status = 200
        self.headers = {"Content-Type": "text/plain"}
        self.body = b""
        self.paths: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.paths.append(self.path)
                self.send_response(site.status)
                for key, value in site.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # a client that stops reading
                    self.wfile.write(site.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer((LOOPBACK, 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.port = self.server.server_address[1]

    def __enter__(self) -> WebSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
