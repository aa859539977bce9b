"""The documentation holds: README.md stays short, every relative link in a tracked *.md file leads
somewhere (a file, and a heading for a #fragment, by GitHub's anchor rules), and every `scripts/...`
command the docs name exists and answers --help. Each failure names the file and the link or command."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.harness.processes import REPO

README_MAX_LINES = 150

# Where an operator reads which commands to run: every `scripts/<name>` in these must be a command.
COMMAND_DOCS = ["README.md", "docs/**/*.md", "deploy/README.md", "glitchtip/README.md", "bench/*.md"]

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"`+[^`]*`+")
# [text](target) and ![alt](target), with an optional "title"; the text may hold code spans.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# scripts/<name> as a command: not part of a longer path (tests/scripts/..., scripts/stack/x.py),
# not a file with a suffix (scripts/_lib.sh, scripts/requirements.txt).
# A markdown file named by its path in code, a comment or a message, with the heading it names, if any:
# docs/operations/backup-and-restore.md, "Restore".
NAMED_DOC = re.compile(r"(?<![\w/.-])([\w-]+(?:/[\w.-]+)*/[\w.-]+\.md)\b(?:, \"([^\"]+)\")?")
COMMAND = re.compile(r"(?<![\w./-])scripts/([A-Za-z0-9][\w-]*)(?![\w/-]|\.\w)")


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    )
    return [REPO / name for name in listed.stdout.split("\0") if name]


def tracked_markdown() -> list[Path]:
    return tracked("*.md")


def prose_lines(path: Path):
    """(line number, line) outside fenced code blocks: what GitHub renders as headings and links."""
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (code spans and links reduced to their text) lower-cased,
    every character but letters, digits, '_', '-' and spaces dropped, spaces turned into hyphens."""
    text = re.sub(r"`+([^`]*)`+", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path):
        if match := HEADING.match(line):
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")  # GitHub numbers repeated headings
    return found


def relative_links(path: Path):
    for number, line in prose_lines(path):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group(1)
            if not SCHEME.match(target):
                yield number, target


def broken(path: Path, target: str) -> str | None:
    """Why a relative link from `path` leads nowhere, or None."""
    file_part, _, fragment = target.partition("#")
    destination = (path.parent / file_part).resolve() if file_part else path
    if not destination.exists():
        return "no such file"
    if REPO not in destination.parents and destination != REPO:
        return "outside the repository"
    if fragment:
        if destination.suffix != ".md" or destination.is_dir():
            return f"#{fragment} into a file that is not markdown"
        if fragment.lower() not in anchors(destination):
            return f"no heading with the anchor #{fragment} in {destination.relative_to(REPO)}"
    return None


def command_docs() -> list[Path]:
    return sorted({path for pattern in COMMAND_DOCS for path in REPO.glob(pattern)})


def named_commands() -> dict[str, list[str]]:
    """Each `scripts/<name>` the docs name, with where (file:line) it is named."""
    named: dict[str, list[str]] = {}
    for path in command_docs():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in COMMAND.findall(line):
                named.setdefault(name, []).append(f"{path.relative_to(REPO)}:{number}")
    return named


COMMANDS = named_commands()


def test_the_readme_is_short():
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, at most {README_MAX_LINES}: move details to docs/"


def test_every_relative_link_in_the_markdown_files_resolves():
    files = tracked_markdown()
    checked, into_headings, failures = 0, 0, []
    for path in files:
        for number, target in relative_links(path):
            checked += 1
            into_headings += "#" in target
            if reason := broken(path, target):
                failures.append(f"{path.relative_to(REPO)}:{number}: ({target}): {reason}")
    assert not failures, "broken links:\n" + "\n".join(failures)
    # Not vacuous: the docs are found, and they link to each other and into each other's headings.
    assert len(files) >= 15 and checked >= 60 and into_headings >= 15, (len(files), checked, into_headings)


def test_every_doc_the_code_and_its_messages_name_exists():
    """Comments, --help texts and error messages point operators at docs by path (and heading): those hold too."""
    named, failures = 0, []
    for path in tracked(":!*.md"):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, IsADirectoryError):
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            for doc, heading in NAMED_DOC.findall(line):
                named += 1
                where = f"{path.relative_to(REPO)}:{number}"
                if not (REPO / doc).is_file():
                    failures.append(f"{where}: {doc}: no such file")
                elif heading and slug(heading) not in anchors(REPO / doc):
                    failures.append(f"{where}: {doc}: no heading {heading!r}")
    assert not failures, "docs named in the code that are not there:\n" + "\n".join(failures)
    assert named >= 20, named  # not vacuous: scripts, env files and compose.yml name their docs


def test_the_readme_links_to_every_doc():
    linked = {(REPO / target.partition("#")[0]).resolve() for _, target in relative_links(REPO / "README.md")}
    docs = sorted((REPO / "docs").rglob("*.md"))
    missing = [str(path.relative_to(REPO)) for path in docs if path not in linked]
    assert docs and not missing, f"README.md does not link to: {missing}"


def test_the_anchor_rules_are_githubs():
    assert slug("Where the certificate comes from (`TLS_MODE`)") == "where-the-certificate-comes-from-tls_mode"
    assert slug("What check-env refuses, and why") == "what-check-env-refuses-and-why"
    assert slug("Production: a host, a domain, https") == "production-a-host-a-domain-https"


def test_the_docs_name_the_commands():
    """Not vacuous: the commands an operator runs are found where the docs name them."""
    assert {"up", "compose", "backup", "restore", "swarm-deploy", "lock-requirements"} <= set(COMMANDS), COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS), ids=lambda name: f"scripts/{name}")
def test_every_command_the_docs_name_exists_and_answers_help(bundle, name):
    where = ", ".join(COMMANDS[name][:3])
    command = REPO / "scripts" / name
    assert command.is_file(), f"scripts/{name} (named in {where}) does not exist"
    assert os.access(command, os.X_OK), f"scripts/{name} (named in {where}) is not executable"
    result = bundle.run(name, "--help")
    assert result.returncode == 0, f"scripts/{name} --help (named in {where}):\n{result.stdout}{result.stderr}"
    assert "usage" in result.stdout.lower(), f"scripts/{name} --help printed no usage:\n{result.stdout}"


def test_the_readme_gives_the_test_command_ci_runs():
    """.ci/run says it runs the test command from README.md: the same system packages, the same command."""
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().replace("\\\n", " ")

    def packages(text: str) -> list[str]:
        # The line with options (-y ...): not the python3-venv hint of the quick start.
        match = re.search(r"apt-get install ((?:-\S+\s+)+)([a-z0-9][^`\n>]*)", text)
        assert match, "no apt-get install -y ... line"
        return match.group(2).split()

    assert packages(readme) == packages(ci)
    assert "python3 -m pytest" in readme and ci.rstrip().endswith("python3 -m pytest")
    assert "-r tests/requirements.txt" in readme
