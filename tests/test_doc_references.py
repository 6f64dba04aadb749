"""Unit test: every document the code, the tests, the benchmarks and the sandbox cite is in the
repository, so a reference resolves for someone who clones it (a "docs/zoho/limits.md" that
exists, a "SECURITY NN" that is a numbered line of docs/security.md), not a file only some
sessions had (the ZOHO and DESIGN notes that the code once cited)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITING = ("src", "tests", "bench", "sandbox")
_MARKDOWN = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")
_RANGE = r"\d+(?:[-\u2013]\d+)?"  # 12 or 1-8 (a hyphen or an en dash)
_SECURITY = re.compile(rf"SECURITY ({_RANGE}(?:(?:, ?| and ){_RANGE})*)")


def _sources() -> list[Path]:
    return sorted(p for folder in CITING for p in (ROOT / folder).rglob("*.py"))


def test_every_cited_markdown_file_exists() -> None:
    missing = []
    for path in _sources():
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for name in _MARKDOWN.findall(line):
                # A bare README.md in a test of the README means the repository's own.
                if not (ROOT / name).is_file() and not (path.parent / name).is_file():
                    missing.append(f"{path.relative_to(ROOT)}:{lineno}: {name}")
    assert not missing, "cited but not in the repository:\n" + "\n".join(missing)


def test_every_cited_security_requirement_is_a_line_of_docs_security() -> None:
    text = (ROOT / "docs/security.md").read_text("utf-8")
    numbered = {int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)}
    unknown = []
    for path in _sources():
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for group in _SECURITY.findall(line):
                for part in re.split(r", ?| and ", group):
                    low, _, high = part.replace("\u2013", "-").partition("-")
                    for number in range(int(low), int(high or low) + 1):
                        if number not in numbered:
                            where = f"{path.relative_to(ROOT)}:{lineno}"
                            unknown.append(f"{where}: SECURITY {number}")
    assert numbered, "docs/security.md has no numbered requirements"
    assert not unknown, "not a requirement of docs/security.md:\n" + "\n".join(unknown)
