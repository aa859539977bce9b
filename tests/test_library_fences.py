"""The fence around the internals of sentry-sdk, gunicorn and WhiteNoise that the bundle relies on.

FENCE lists every private name of theirs used anywhere in the repository, and every method of
theirs a class here overrides (an override depends on when and how the library calls it). The
test fails, naming the entry, when an upgrade removes one or changes its parameters, and when
the code uses such a name that is not listed (or the list keeps one no longer used). What each
is for is checked in behaviour by the tests named beside it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

from tests.harness.processes import REPO

LIBRARIES = ("sentry_sdk", "gunicorn", "whitenoise")
SCANNED = ("app", "scripts", "glitchtip", "bench", "tests")

# Name -> its parameters as the installed library has them (or "attribute"), and why it is used.
FENCE = {
    # app/config/sentry_transport.py (tests/app/test_sentry_transport.py): no SDK option sets these.
    "sentry_sdk.transport.HttpTransport._get_pool_options": (
        "self",
        "urllib3's pool options: the transport's timeouts and no retries",
    ),
    "sentry_sdk.transport.HttpTransport._send_envelope": (
        "self, envelope",
        "each envelope on the sender's thread: skipped during a back-off, its outcome",
    ),
    # Public names, undocumented hooks: overridden in the same class.
    "sentry_sdk.transport.HttpTransport.capture_envelope": ("self, envelope", "counts what is queued"),
    "sentry_sdk.transport.HttpTransport.record_lost_event": (
        "self, reason, data_category=None, item=None, *, quantity=1",
        "counts each lost event with its reason",
    ),
    "sentry_sdk.transport.HttpTransport.on_dropped_event": (
        "self, _reason",
        'a full queue; a refusal\'s HTTP status ("status_429")',
    ),
    "sentry_sdk.transport.HttpTransport.is_healthy": ("self", "unhealthy during an outage: fewer traces"),
}


def parameters(obj) -> str:
    """`obj`'s parameters as written in a def line, without annotations; "attribute" when not callable."""
    if not callable(obj):
        return "attribute"
    words, keyword_only = [], False
    for parameter in inspect.signature(obj).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and not keyword_only:
            words.append("*")
            keyword_only = True
        default = "" if parameter.default is parameter.empty else f"={parameter.default!r}"
        words.append(f"{parameter.name}{default}")
    return ", ".join(words)


def installed(name: str):
    """The object `name` ("package.module.Class.attribute") names in the installed libraries."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(name)


class Uses(ast.NodeVisitor):
    """The fenced kind of use in one module: a private name reached from an import of the libraries,
    an import of a private module or name, and a method of a library class overridden here."""

    def __init__(self, tree: ast.Module):
        self.imported: dict[str, str] = {}  # local name -> what it is bound to in a library
        self.found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in LIBRARIES:
                        self.imported[alias.asname or alias.name.split(".")[0]] = (
                            alias.asname and alias.name or alias.name.split(".")[0]
                        )
                        self._private(alias.name)
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module
                and node.module.split(".")[0] in LIBRARIES
            ):
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                    self._private(f"{node.module}.{alias.name}")
        self.visit(tree)

    def _private(self, name: str) -> None:
        if any(part.startswith("_") and not part.startswith("__") for part in name.split(".")):
            self.found.add(name)

    def library_object(self, node: ast.expr) -> str | None:
        """What a name, attribute chain or call made from a library import stands for, as text."""
        if isinstance(node, ast.Name):
            return self.imported.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.library_object(node.value)
            return base and f"{base}.{node.attr}"
        if isinstance(node, ast.Call):
            base = self.library_object(node.func)
            return base and f"{base}()"
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_") and not node.attr.startswith("__"):
            base = self.library_object(node.value)
            if base:
                self.found.add(f"{base}.{node.attr}")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in filter(None, map(self.library_object, node.bases)):
            library_class = installed(base)
            for method in node.body:
                if (
                    isinstance(method, ast.FunctionDef)
                    and not method.name.startswith("__")
                    and hasattr(library_class, method.name)
                ):
                    self.found.add(f"{base}.{method.name}")
        self.generic_visit(node)


def used_in_repository() -> dict[str, list[str]]:
    """Fenced kind of name -> where (path:line of the module) it is used."""
    uses: dict[str, list[str]] = {}
    for folder in SCANNED:
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or path == Path(__file__):
                continue
            for name in Uses(ast.parse(path.read_text(), str(path))).found:
                uses.setdefault(name, []).append(str(relative))
    return uses


def test_every_private_name_and_overridden_hook_of_the_libraries_is_fenced_and_still_there():
    changed = []
    for name, (expected, why) in FENCE.items():
        try:
            found = parameters(installed(name))
        except (ImportError, AttributeError) as exc:
            changed.append(f"{name} is gone ({exc}); it served: {why}")
            continue
        if found != expected:
            changed.append(f"{name} now takes ({found}), not ({expected}); it served: {why}")
    assert changed == [], "an upgrade moved what the bundle relies on:\n" + "\n".join(changed)

    uses = used_in_repository()
    unfenced = {name: where for name, where in uses.items() if name not in FENCE}
    assert unfenced == {}, "add these to FENCE in tests/test_library_fences.py (or use public API)"
    assert set(FENCE) <= set(uses), f"no longer used, remove from FENCE: {set(FENCE) - set(uses)}"
