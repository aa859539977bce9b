"""GlitchTip's issue search (the `query` parameter of the issue lists).

Structured terms first: `is:<status>`, `has:<tag key>`, `level:<level>` and any other
`<tag key>:<value>`, which filters on the tags of the issue's events (so `run_id:abc` works).
Free text must come last. GlitchTip matches it with PostgreSQL full-text search against the
issue's title, culprit, URL and file names; the double compares lower-case words instead
(no stemming, no stop words).
"""
from __future__ import annotations

import re
import shlex

from . import wire
from .state import Issue


def search_issues(issues: list[Issue], query: str) -> list[Issue]:
    """The issues matching `query`, term by term as GlitchTip's filter_issue_list reads it."""
    try:
        terms = shlex.split(query)
    except ValueError:
        raise wire.server_error()  # unbalanced quotes crash the real view
    for index, term in enumerate(terms):
        name, colon, value = term.partition(":")
        if not colon:
            text = " ".join(terms[index:])
            return [issue for issue in issues if _matches_text(issue, text)]
        value = value.strip('"')
        if name == "is":
            issues = [issue for issue in issues if issue.status == value]
        elif name == "has":
            issues = [issue for issue in issues if any(key == value for key, _ in issue.tags)]
        elif name == "level":
            issues = [issue for issue in issues if issue.level == value]
        else:
            issues = [issue for issue in issues if (name, value) in issue.tags]
    return issues


def _matches_text(issue: Issue, text: str) -> bool:
    """All words in the issue's search text; with a `*`, a title pattern (like ILIKE) also matches."""
    full_text = words(text) <= words(issue.search_text)
    if "*" not in text:
        return full_text
    pattern = ".*".join(re.escape(part) for part in text.split("*"))
    return full_text or re.search(pattern, issue.title, re.IGNORECASE) is not None


def words(text: str) -> set[str]:
    """Lower-case words, a stand-in for PostgreSQL's text search lexemes (no stemming)."""
    return set(re.findall(r"\w+", text.lower()))
