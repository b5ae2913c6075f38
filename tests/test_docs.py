"""README, CONTRIBUTING and tests/README describe only what exists in this repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keeper.config import ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "CONTRIBUTING.md", "tests/README.md"]
GENERATED = {".data", ".build", ".venv", "node_modules"}  # made by set-up and runs, not in git
TOP = {p.name for p in ROOT.iterdir()} - GENERATED


def code_spans(doc: str) -> list[str]:
    """Inline code spans and fenced code lines of a Markdown file."""
    text = (ROOT / doc).read_text()
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return inline + [line for block in fenced for line in block.splitlines()]


def paths_in(doc: str) -> set[str]:
    """Repository paths named in ``doc``: words starting with a top-level file or folder."""
    found = set()
    for span in code_spans(doc):
        for word in re.findall(r"[\w.\-/<>*]+", span):
            head = word.split("/")[0]
            if "/" in word and head in TOP and not re.search(r"[<>*]", word):
                found.add(word.rstrip(".,:;)"))
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_named_exists(doc: str) -> None:
    named = paths_in(doc)
    assert named, f"{doc} names no path at all: the check would be empty"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == [], f"{doc} names missing paths"


@pytest.mark.parametrize("doc", DOCS)
def test_nothing_outside_the_repository(doc: str) -> None:
    text = (ROOT / doc).read_text()
    assert not re.search(r"\.\./|/work/|shared/TOOLCHAIN", text)


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_target_named_exists(doc: str) -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    named = {t for span in code_spans(doc) for t in re.findall(r"\bmake ([\w-]+)", span)}
    assert named - targets == set()


def test_readme_lists_every_setting_and_no_other() -> None:
    text = (ROOT / "README.md").read_text()
    for var in ENVIRONMENT.values():
        assert f"`{var}`" in text, var
    named = set(re.findall(r"`((?:STRONGROOM|LEDGER)_[A-Z_]+)`", text))
    assert named - set(ENVIRONMENT.values()) <= {"STRONGROOM_HSM_PIN"}  # a secret, not a setting


def test_pyproject_comments_point_nowhere_outside() -> None:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    comments = " ".join(line.split("#", 1)[1] for line in lines if "#" in line)
    assert comments and not re.search(r"\.\./|TOOLCHAIN", comments)
