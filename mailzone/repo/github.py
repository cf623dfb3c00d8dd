"""A small client for the GitHub REST API: the issue and comment endpoints `mailzone ci
comment` and `mailzone ci issue` use, nothing else.

Standard library only. Every request has a timeout and a bounded response; lists follow the
`Link: <...>; rel="next"` header up to a page cap, and only to the API's own origin (the token
goes nowhere else, redirects included). A failure is one `MailzoneError` line that names the
method, the path and what GitHub said, never the token:
`GitHub API: POST /repos/o/r/issues/3/comments: 403 Resource not accessible by integration`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import Any, cast

from mailzone.errors import MailzoneError, one_line

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT = 30.0  # seconds per request
MAX_RESPONSE = 8 * 1024 * 1024  # bytes of one response body
PER_PAGE = 100
MAX_PAGES = 30  # of PER_PAGE items: a list longer than 3,000 is an error, not a guess
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the API's origin: the Authorization header goes along."""

    def __init__(self, origin: tuple[str, str]) -> None:
        self.origin = origin

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != self.origin:
            return None  # urllib raises the 30x as an HTTPError
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass(frozen=True)
class GitHub:
    """The REST API at `api_url` (`$GITHUB_API_URL`) for `repository` (`owner/name`), with `token`."""

    api_url: str
    token: str
    repository: str
    timeout: float = TIMEOUT
    max_pages: int = MAX_PAGES

    def __post_init__(self) -> None:
        if not _REPOSITORY.fullmatch(self.repository):
            raise MailzoneError(f"GITHUB_REPOSITORY: '{self.repository}' is not owner/name")
        scheme, host = _origin(self.api_url)
        if scheme not in ("http", "https") or not host:
            raise MailzoneError(f"GITHUB_API_URL: '{self.api_url}' is not an http(s) URL")
        if not self.token or not self.token.isprintable() or " " in self.token:
            raise MailzoneError(
                "GITHUB_TOKEN: not a token (empty, or spaces or control characters)"
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHub | None:
        """The API the workflow's environment names; None without `GITHUB_TOKEN`."""
        token = environ.get("GITHUB_TOKEN", "")
        if not token:
            return None
        repository = environ.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise MailzoneError("GITHUB_REPOSITORY is not set (owner/name)")
        api = environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(api.rstrip("/"), token, repository)

    @property
    def repo_path(self) -> str:
        """`/repos/owner/name`."""
        return f"/repos/{self.repository}"

    # the endpoints (https://docs.github.com/en/rest/issues)

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        """`GET /repos/{owner}/{repo}/issues/{number}/comments`, oldest first, every page."""
        return self.pages(f"{self.repo_path}/issues/{number}/comments")

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        """`POST /repos/{owner}/{repo}/issues/{number}/comments`."""
        return self.call("POST", f"{self.repo_path}/issues/{number}/comments", {"body": body})

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        """`PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}`."""
        return self.call("PATCH", f"{self.repo_path}/issues/comments/{comment_id}", {"body": body})

    def open_issues(self) -> Iterator[dict[str, Any]]:
        """`GET /repos/{owner}/{repo}/issues?state=open`, oldest first, without pull requests."""
        path = f"{self.repo_path}/issues?state=open&sort=created&direction=asc"
        return (i for i in self.pages(path) if "pull_request" not in i)

    def create_issue(self, title: str, body: str) -> dict[str, Any]:
        """`POST /repos/{owner}/{repo}/issues`."""
        return self.call("POST", f"{self.repo_path}/issues", {"title": title, "body": body})

    def update_issue(self, number: int, fields: dict[str, str]) -> dict[str, Any]:
        """`PATCH /repos/{owner}/{repo}/issues/{number}` (title, body, state, state_reason)."""
        return self.call("PATCH", f"{self.repo_path}/issues/{number}", fields)

    # the transport

    def call(self, method: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request to `path` (below the API URL); the JSON object it answers."""
        answer, _ = self._request(method, self.api_url + path, data)
        if not isinstance(answer, dict):
            raise self._error(method, path, "the answer is not a JSON object")
        return answer

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list, following `Link: rel="next"` up to `max_pages` pages."""
        sep = "&" if "?" in path else "?"
        url: str | None = f"{self.api_url}{path}{sep}per_page={PER_PAGE}"
        for _ in range(self.max_pages):
            assert url is not None
            answer, headers = self._request("GET", url, None)
            if not isinstance(answer, list):
                raise self._error("GET", path, "the answer is not a JSON list")
            yield from (item for item in answer if isinstance(item, dict))
            url = self._next(headers.get("Link", ""), path)
            if url is None:
                return
        raise self._error("GET", path, f"more than {self.max_pages} pages of {PER_PAGE}; stopped")

    def _next(self, link: str, path: str) -> str | None:
        found = _NEXT.search(link)
        if not found:
            return None
        url = found.group(1)
        if _origin(url) != _origin(self.api_url):
            raise self._error("GET", path, "the next page is on another host; not followed")
        return url

    def _request(
        self, method: str, url: str, data: dict[str, Any] | None
    ) -> tuple[Any, HTTPMessage]:
        path = url[len(self.api_url) :] if url.startswith(self.api_url) else url
        shown = path.split("?", 1)[0]
        request = urllib.request.Request(
            url,
            method=method,
            data=None if data is None else json.dumps(data).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "mailzone",
                **({} if data is None else {"Content-Type": "application/json"}),
            },
        )
        opener = urllib.request.build_opener(_SameOrigin(_origin(self.api_url)))
        try:
            with opener.open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE + 1)
                headers = response.headers
        except urllib.error.HTTPError as err:
            with err:
                detail = _message(err.read(64 * 1024))
            raise self._error(method, shown, f"{err.code} {detail or err.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise self._error(method, shown, str(reason)) from None
        if len(raw) > MAX_RESPONSE:
            raise self._error(method, shown, f"the answer is over {MAX_RESPONSE} bytes")
        if not raw.strip():
            return {}, headers
        try:
            return json.loads(raw), headers
        except ValueError:
            raise self._error(method, shown, "the answer is not JSON") from None

    def _error(self, method: str, path: str, what: str) -> MailzoneError:
        text = one_line(f"GitHub API: {method} {path}: {what}")
        return MailzoneError(text.replace(self.token, "***"))


def _message(raw: bytes) -> str:
    """The `message` of GitHub's JSON error body (or the start of a non-JSON one)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return cast(str, data["message"])[:500]
    return ""
