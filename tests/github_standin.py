"""A local stand-in for the GitHub REST API: just the issue and comment endpoints `mailzone ci
comment` and `mailzone ci issue` use, as GitHub documents them, with issues and comments in
memory. It checks the token on every request, pages lists with `Link` headers, refuses a body
over 65,536 characters as GitHub does, and records every request for the tests to read.

    with running_standin(token="t0ken") as github:
        github.add_pull_request(7)
        ... run mailzone with GITHUB_API_URL=github.url ...
        assert [r.method for r in github.requests] == ["GET", "POST"]
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = "octo/dns"
BODY_LIMIT = 65_536
_ROUTES = [
    ("GET", re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments"), "list_comments"),
    ("POST", re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments"), "create_comment"),
    ("PATCH", re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)"), "update_comment"),
    ("GET", re.compile(r"/repos/([^/]+/[^/]+)/issues"), "list_issues"),
    ("POST", re.compile(r"/repos/([^/]+/[^/]+)/issues"), "create_issue"),
    ("PATCH", re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)"), "update_issue"),
]


@dataclass(frozen=True)
class Request:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: Any


Answer = tuple[int, Any, dict[str, str]]  # status, JSON body, headers


@dataclass(frozen=True)
class Call:
    """What an endpoint gets: the path, the query, the JSON body, the numbers in the path."""

    path: str
    query: dict[str, list[str]]
    body: Any
    ids: list[int]


@dataclass
class GitHubStandin:
    """The in-memory repository `REPO` and what was asked of it."""

    token: str
    url: str = ""
    page_size: int = 30  # GitHub's default; `per_page` asks for up to 100
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)  # method → status, message
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1001, 10**6)))

    def add_pull_request(self, number: int) -> None:
        """A pull request (GitHub numbers them with the issues)."""
        self.issues[number] = {
            "number": number,
            "title": f"PR {number}",
            "body": "",
            "state": "open",
            "pull_request": {"url": f"{self.url}/repos/{REPO}/pulls/{number}"},
        }

    def add_comment(self, number: int, body: str, user: str = "someone") -> int:
        """A comment someone else wrote; its id."""
        return int(self._comment(number, body, user)["id"])

    def add_issue(self, title: str, body: str, state: str = "open") -> int:
        """An issue someone else opened; its number."""
        return int(self._issue(title, body, state)["number"])

    def refuse(self, method: str, status: int, message: str) -> None:
        """Answer every `method` request with `status` and GitHub's error body."""
        self.refusals[method] = (status, message)

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        """The comments of an issue or pull request, oldest first."""
        return [c for c in self.comments.values() if c["issue"] == number]

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request that was not a GET."""
        return [(r.method, r.path) for r in self.requests if r.method != "GET"]

    # the endpoints

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        for verb, pattern, name in _ROUTES:
            found = pattern.fullmatch(path)
            if verb == method and found:
                if found.group(1) != REPO:
                    return 404, {"message": "Not Found"}, {}
                call = Call(path, query, body, [int(n) for n in found.groups()[1:]])
                answer: Answer = getattr(self, name)(call)
                return answer
        return 404, {"message": "Not Found"}, {}

    def list_comments(self, call: Call) -> Answer:
        return self._page([self._public(c) for c in self.comments_on(call.ids[0])], call)

    def create_comment(self, call: Call) -> Answer:
        if call.ids[0] not in self.issues:
            return 404, {"message": "Not Found"}, {}
        problem = _invalid(call.body, "body")
        if problem:
            return problem
        made = self._comment(call.ids[0], call.body["body"], "github-actions[bot]")
        return 201, self._public(made), {}

    def update_comment(self, call: Call) -> Answer:
        comment = self.comments.get(call.ids[0])
        if comment is None:
            return 404, {"message": "Not Found"}, {}
        problem = _invalid(call.body, "body")
        if problem:
            return problem
        comment["body"] = call.body["body"]
        return 200, self._public(comment), {}

    def list_issues(self, call: Call) -> Answer:
        state = call.query.get("state", ["open"])[0]
        found = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        return self._page(found, call)

    def create_issue(self, call: Call) -> Answer:
        problem = _invalid(call.body, "title") or _invalid(call.body, "body")
        if problem:
            return problem
        return 201, self._issue(call.body["title"], call.body["body"], "open"), {}

    def update_issue(self, call: Call) -> Answer:
        issue = self.issues.get(call.ids[0])
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        problem = _invalid(call.body, "body") if "body" in (call.body or {}) else None
        if problem or not isinstance(call.body, dict):
            return problem or (422, {"message": "Validation Failed"}, {})
        fields = ("title", "body", "state", "state_reason")
        issue.update({k: call.body[k] for k in fields if k in call.body})
        return 200, issue, {}

    # helpers

    def _comment(self, number: int, body: str, user: str) -> dict[str, Any]:
        cid = next(self._ids)
        self.comments[cid] = {"id": cid, "issue": number, "body": body, "user": {"login": user}}
        return self.comments[cid]

    def _issue(self, title: str, body: str, state: str) -> dict[str, Any]:
        number = max(self.issues, default=0) + 1
        self.issues[number] = {"number": number, "title": title, "body": body, "state": state}
        self.issues[number]["html_url"] = f"{self.url}/{REPO}/issues/{number}"
        return self.issues[number]

    def _public(self, comment: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in comment.items() if k != "issue"}
        return {
            **shown,
            "html_url": f"{self.url}/{REPO}/issues/{comment['issue']}#c{comment['id']}",
        }

    def _page(self, items: list[dict[str, Any]], call: Call) -> Answer:
        query = call.query
        size = min(int(query.get("per_page", [self.page_size])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            rest = {k: v[0] for k, v in query.items() if k != "page"}
            params = "&".join(f"{k}={v}" for k, v in {**rest, "page": page + 1}.items())
            headers["Link"] = f'<{self.url}{call.path}?{params}>; rel="next"'
        return 200, chunk, headers


def _invalid(body: Any, name: str) -> Answer | None:
    """GitHub's 422 for a missing field or a body over its limit."""
    if not isinstance(body, dict) or not isinstance(body.get(name), str):
        return 422, {"message": "Validation Failed"}, {}
    if len(body[name]) > BODY_LIMIT:
        return 422, {"message": f"Validation Failed: {name} is too long"}, {}
    return None


def _handler(standin: GitHubStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = parse_qs(parts.query)
            standin.requests.append(
                Request(
                    self.command,
                    parts.path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            headers: dict[str, str] = {}
            if self.headers.get("Authorization") != f"Bearer {standin.token}":
                status, answer = 401, {"message": "Bad credentials"}
            elif self.command in standin.refusals:
                status, message = standin.refusals[self.command]
                answer = {"message": message}
            else:
                status, answer, headers = standin.handle(self.command, parts.path, query, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

    return Handler


@contextlib.contextmanager
def running_standin(token: str) -> Iterator[GitHubStandin]:
    """A stand-in on a free loopback port, for as long as the block runs."""
    standin = GitHubStandin(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
