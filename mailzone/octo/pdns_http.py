"""The PowerDNS API's requests over `http.client`, for `pdns_reader.FastPowerDnsProvider`.

octodns-powerdns sends each request through a `requests` session: about 1 ms of CPU a request
against 0.3 ms over `http.client` (the proxy environment and netrc read again each time, the
connection pool, the adapters). `LeanApi.of` decides once per provider whether `requests`
would add anything to a request to the API: it would for https, a proxy the environment names
for the URL, a netrc entry, auth, cookies, parameters or hooks on the session, or a (connect,
read) timeout pair. When it would not, `request` sends the same method, URL, headers and JSON
body over `http.client` and answers with a `requests.Response` (status, reason, headers, body,
URL), so octodns-powerdns's `raise_for_status`, `.json()` and error handling read it as
before. PowerDNS closes the connection after every answer (`Connection: close`): there is no
connection to reuse.

What `request` cannot answer exactly goes to the session: a connection that cannot be made
(nothing was sent, so asking again changes nothing), a redirect, a compressed answer to a GET,
and every request after an answer that set a cookie (put in the session's jar, as `requests`
does; PowerDNS sets none, a proxy in front of it might). A request that fails after it was
sent is not sent again (nor waited for twice): the error is raised as `requests` raises it
(`ReadTimeout`, `ConnectionError` over urllib3's `ProtocolError`), in the same words."""

from __future__ import annotations

import http.client
import json
import select
import socket
import zlib
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    get_encoding_from_headers,
    get_environ_proxies,
    get_netrc_auth,
    requote_uri,
    select_proxy,
)
from urllib3.exceptions import ProtocolError


class LeanApi:
    """Where and how to send a provider's API requests without `requests`."""

    def __init__(self, host: str, port: int, base: str, timeout: float, sess: Any) -> None:
        self.host, self.port, self.base, self.timeout = host, port, base, timeout
        self.headers: dict[str, str] = dict(sess.headers)
        self.jar = sess.cookies
        self.usable = True  # False once an answer set a cookie: the session sends it from then
        self._ahead: dict[str, http.client.HTTPConnection] = {}  # GETs sent, not read: by path

    @classmethod
    def of(cls, provider: Any) -> LeanApi | None:
        """The provider's API when `requests` would add nothing to its requests, else None."""
        url = (
            f"{provider.scheme}://{provider.host}:{provider.port:d}/api/v1/servers/"
            f"{provider.server_id}/"
        )
        sess, timeout, host = provider._sess, provider.timeout, provider.host
        if provider.scheme != "http" or not isinstance(host, str) or set(host) & set(":@/?#"):
            return None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            return None
        if sess.auth or sess.cookies or sess.params or sess.proxies or any(sess.hooks.values()):
            return None
        if sess.trust_env and (
            select_proxy(url, get_environ_proxies(url)) or get_netrc_auth(url) is not None
        ):
            return None
        return cls(host, provider.port, urlsplit(url).path, timeout, sess)

    def send_ahead(self, path: str) -> bool:
        """Send `GET path` now on a connection of its own, for the next `request` of it to read
        (the server works on it meanwhile); False when it could not be sent."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.connect()
            conn.request("GET", self._target(path), headers=dict(self.headers))
        except (OSError, http.client.HTTPException):
            conn.close()
            return False
        old = self._ahead.pop(path, None)
        if old is not None:
            old.close()
        self._ahead[path] = conn
        return True

    def is_ahead(self, path: str) -> bool:
        """Whether `GET path` was sent ahead and not read yet."""
        return path in self._ahead

    def ready_ahead(self) -> list[str]:
        """The paths of GETs sent ahead whose answers have begun to arrive."""
        if not self._ahead:
            return []
        socks = {conn.sock: path for path, conn in self._ahead.items() if conn.sock}
        ready, _, _ = select.select(list(socks), [], [], 0)
        return [socks[sock] for sock in ready]

    def in_flight(self) -> int:
        """How many GETs sent ahead are not read yet."""
        return len(self._ahead)

    def drop_ahead(self) -> None:
        """Close the connections of GETs sent ahead and never read."""
        while self._ahead:
            self._ahead.popitem()[1].close()

    def _target(self, path: str) -> str:
        return requote_uri(f"{self.base}{path}".rstrip("/"))

    def request(self, method: str, path: str, data: Any = None) -> requests.Response | None:
        """The API's answer to `method path` with `data` as JSON; None: the session must ask.
        A GET sent ahead is read from its connection (sent again if that one was closed without
        an answer)."""
        target = self._target(path)
        headers = dict(self.headers)
        body = None
        if data is not None:
            body = json.dumps(data, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = self._ahead.pop(path, None) if method == "GET" and body is None else None
        answer = None
        if conn is not None:
            try:
                answer = conn.getresponse()
                content = answer.read()
            except TimeoutError as err:  # the request was made: not sent (nor waited) again
                raise self._failure(err) from err
            except (OSError, http.client.HTTPException):
                answer = None  # closed without an answer: a GET, asked again below
            finally:
                conn.close()
        if answer is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                try:
                    conn.connect()
                except OSError:
                    return None
                try:
                    conn.request(method, target, body=body, headers=headers)
                    answer = conn.getresponse()
                    content = answer.read()
                except (OSError, http.client.HTTPException) as err:
                    raise self._failure(err) from err
            finally:
                conn.close()
        encoding = answer.getheader("Content-Encoding", "identity").lower()
        if 300 <= answer.status < 400 or (method == "GET" and encoding != "identity"):
            return None
        url = f"http://{self.host}:{self.port}{target}"
        if answer.getheader("Set-Cookie") is not None:  # kept and sent back by the session
            sent = requests.Request(method, url, headers=headers).prepare()
            extract_cookies_to_jar(self.jar, sent, SimpleNamespace(_original_response=answer))
            self.usable = False
        resp = requests.Response()
        resp.status_code, resp.reason = answer.status, answer.reason
        resp.headers = CaseInsensitiveDict(answer.getheaders())
        resp._content = _decoded(content, encoding)
        resp.encoding = get_encoding_from_headers(resp.headers)
        resp.url = url
        return resp

    def _failure(self, err: Exception) -> requests.RequestException:
        """The exception `requests` raises for `err` once the request was sent."""
        if isinstance(err, socket.timeout):
            pool = f"HTTPConnectionPool(host={self.host!r}, port={self.port})"
            return requests.ReadTimeout(f"{pool}: Read timed out. (read timeout={self.timeout})")
        return requests.ConnectionError(ProtocolError("Connection aborted.", err))


def _decoded(content: bytes, encoding: str) -> bytes:
    """A write's answer body (an error's text) gzip- or zlib-decoded; as it came otherwise."""
    if encoding in ("gzip", "deflate"):
        try:
            return zlib.decompress(content, 47)
        except zlib.error:
            pass
    return content
