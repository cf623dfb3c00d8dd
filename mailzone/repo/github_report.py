"""What CI tells people on GitHub: the plan as ONE pull-request comment (`mailzone ci comment`)
and drift as ONE open issue (`mailzone ci issue`), each found again by a hidden marker at the
start of its body and edited in place.

The bodies are built here from `mailzone plan --format markdown` (one `### zone (provider)`
section per zone) and from the workflow's environment; `mailzone.repo.github` sends them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailzone.errors import MailzoneError
from mailzone.repo.github import GitHub

PLAN_MARKER = "<!-- mailzone-plan -->"
DRIFT_MARKER = "<!-- mailzone-drift -->"
BODY_LIMIT = 65_536  # characters GitHub takes in a comment or an issue body
NO_CHANGES = "No DNS changes."
_HEADING = "## mailzone plan"


@dataclass(frozen=True)
class ZoneSection:
    """One zone's part of a Markdown plan: its heading (`example.org (local)`), its text, the
    number of changes (table rows), and whether it says nothing but `No changes.`."""

    title: str
    text: str
    changes: int
    quiet: bool


def plan_sections(markdown: str) -> list[ZoneSection]:
    """The zones of `plan --format markdown` output, in order."""
    sections: list[ZoneSection] = []
    for chunk in ("\n" + markdown).split("\n### ")[1:]:
        title, _, rest = chunk.partition("\n")
        rows = [line for line in rest.splitlines() if line.startswith("| ")]
        changes = sum(1 for row in rows if not row.startswith("| action |"))
        text = f"### {title}\n{rest}".rstrip() + "\n"
        sections.append(ZoneSection(title.strip(), text, changes, rest.strip() == "No changes."))
    return sections


def run_url(environ: Mapping[str, str]) -> str | None:
    """The link to this workflow run (`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/
    $GITHUB_RUN_ID`), whose job summary holds the whole plan; None outside a run."""
    parts = [
        environ.get(n, "") for n in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    ]
    if not all(parts):
        return None
    server, repository, run_id = parts
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def _footer(url: str | None) -> str:
    return f"\n<sub>mailzone, [workflow run]({url})</sub>\n" if url else ""


def plan_comment_body(markdown: str, url: str | None, limit: int = BODY_LIMIT) -> str:
    """The comment: the marker, then the zones that change (one line for the rest), or
    `No DNS changes.`; over `limit` characters, one line per changing zone and a link to the
    run's job summary instead (the list cut short for huge fleets)."""
    sections = plan_sections(markdown)
    loud = [s for s in sections if not s.quiet]
    head = f"{PLAN_MARKER}\n{_HEADING}\n\n"
    if not loud:
        return head + NO_CHANGES + "\n" + _footer(url)
    quiet = len(sections) - len(loud)
    rest = f"{quiet} other zone(s): no changes.\n" if quiet else ""
    body = head + "\n".join(s.text for s in loud) + "\n" + rest + _footer(url)
    if len(body) <= limit:
        return body
    return _plan_summary(head, loud, len(body), url, limit)


def _plan_summary(
    head: str, loud: list[ZoneSection], size: int, url: str | None, limit: int
) -> str:
    where = f"the [job summary of this run]({url})" if url else "this workflow run's job summary"
    total = sum(s.changes for s in loud)
    lines = [
        f"The plan is too long for a comment ({size:,} characters): {total} change(s) in "
        f"{len(loud)} zone(s), listed below; the whole plan is in {where}.",
        "",
        "| zone | changes |",
        "|---|---|",
    ]
    tail_room = 200  # the "and N more" line and the footer
    used = len(head) + sum(len(line) + 1 for line in lines) + len(_footer(url)) + tail_room
    shown = 0
    for section in loud:
        row = f"| {section.title} | {section.changes or 'see the plan'} |"
        if used + len(row) + 1 > limit:
            break
        lines.append(row)
        used += len(row) + 1
        shown += 1
    if shown < len(loud):
        lines += ["", f"… and {len(loud) - shown} more zone(s): see the whole plan."]
    return head + "\n".join(lines) + "\n" + _footer(url)


@dataclass(frozen=True)
class PullRequest:
    """The pull request to comment on; `fork` names the head repository when it is another one."""

    number: int
    fork: str | None = None


def pull_request_of(number: int | None, environ: Mapping[str, str]) -> PullRequest:
    """`--pr N`, else the `pull_request` of the event `$GITHUB_EVENT_PATH` describes."""
    event = _event(environ)
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else None
    fork = _fork(pr) if pr else None
    if number is not None:
        return PullRequest(number, fork if pr and pr.get("number") == number else None)
    if not pr or not isinstance(pr.get("number"), int):
        raise MailzoneError(
            "no pull request: pass --pr N, or run on a pull_request event ($GITHUB_EVENT_PATH)"
        )
    return PullRequest(pr["number"], fork)


def _event(environ: Mapping[str, str]) -> dict[str, Any]:
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise MailzoneError(f"GITHUB_EVENT_PATH: {path}: {err.strerror}") from None
    except ValueError:
        raise MailzoneError(f"GITHUB_EVENT_PATH: {path}: not JSON") from None
    return data if isinstance(data, dict) else {}


def _fork(pr: dict[str, Any]) -> str | None:
    """The head repository's name when it is not the base repository (a fork; a deleted fork
    has no head repository)."""

    def name(side: str) -> str | None:
        repo = (pr.get(side) or {}).get("repo")
        return repo.get("full_name") if isinstance(repo, dict) else None

    head, base = name("head"), name("base")
    if head == base and head is not None:
        return None
    return head or "a deleted fork"


def _marked(items: Iterable[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    """The first item whose body starts with `marker` (a quote of it starts with `> `)."""
    return next((i for i in items if str(i.get("body") or "").startswith(marker)), None)


def upsert_comment(api: GitHub, number: int, body: str) -> str:
    """Edit the pull request's comment that starts with the body's marker, else create one;
    says which, with the comment's link."""
    marker = body.split("\n", 1)[0]
    found = _marked(api.issue_comments(number), marker)
    if found is not None:
        done = api.update_comment(int(found["id"]), body)
        return f"updated comment {found['id']} on #{number}{_link(done)}"
    done = api.create_comment(number, body)
    return f"created comment {done.get('id')} on #{number}{_link(done)}"


def drift_issue_body(text: str, url: str | None, limit: int = BODY_LIMIT) -> str:
    """The marker, `text` (cut to fit the limit, saying so) and a link to the run."""
    footer = _footer(url)
    body = f"{DRIFT_MARKER}\n{text.rstrip()}\n{footer}"
    if len(body) <= limit:
        return body
    note = f"\n\n… cut here: {len(body) - limit:,}+ characters more, in the run's log.\n"
    room = limit - len(DRIFT_MARKER) - len(note) - len(footer) - 1
    return f"{DRIFT_MARKER}\n{text[:room].rstrip()}{note}{footer}"


def upsert_drift_issue(api: GitHub, title: str, body: str) -> str:
    """Edit the open issue whose body starts with the drift marker (title and body), else open
    one; says which."""
    found = _marked(api.open_issues(), DRIFT_MARKER)
    if found is not None:
        done = api.update_issue(int(found["number"]), {"title": title, "body": body})
        return f"updated issue #{found['number']}{_link(done)}"
    done = api.create_issue(title, body)
    return f"opened issue #{done.get('number')}{_link(done)}"


def resolve_drift_issue(api: GitHub, url: str | None) -> str:
    """Comment on the open drift issue and close it; a no-op when none is open. Says which."""
    found = _marked(api.open_issues(), DRIFT_MARKER)
    if found is None:
        return "no open drift issue; nothing to close"
    number = int(found["number"])
    run = f" ([workflow run]({url}))" if url else ""
    api.create_comment(number, f"Resolved: the drift checks pass again{run}.")
    api.update_issue(number, {"state": "closed", "state_reason": "completed"})
    return f"closed issue #{number}"


def _link(answer: dict[str, Any]) -> str:
    url = answer.get("html_url")
    return f": {url}" if isinstance(url, str) and url else ""


def append_step_summary(environ: Mapping[str, str], markdown: str) -> bool:
    """Append the whole plan to the job summary (`$GITHUB_STEP_SUMMARY`), if the run has one."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    try:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(f"{_HEADING}\n\n{markdown.rstrip()}\n\n")
    except OSError as err:
        raise MailzoneError(f"GITHUB_STEP_SUMMARY: {target}: {err.strerror}") from None
    return True
