"""Streaming, hardened XML reading shared by the XML list importers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from keeper.compliance.screening.records import ListFormatError


def local(tag: str) -> str:
    """``{namespace}Tag`` -> ``Tag``."""
    return tag.rpartition("}")[2]


def stream(source: BinaryIO, root: str, wanted: frozenset[str]) -> Iterator[Element]:
    """Yield the elements of ``source`` whose local name is in ``wanted`` as they end (the caller
    clears what it consumed).

    DTDs, entities and external references are refused (defusedxml), the root element must be
    ``root``, and a file that ends before its root closes (a truncated download) is refused."""
    closed = False
    try:
        events = iterparse(source, events=("start", "end"), forbid_dtd=True, forbid_entities=True,
                           forbid_external=True)
        depth = 0
        full: set[str] = set()
        for event, elem in events:
            if event == "start":
                if depth == 0:
                    if local(elem.tag) != root:
                        raise ListFormatError(f"root element is {local(elem.tag)!r}, not {root!r}")
                    namespace = elem.tag[: len(elem.tag) - len(root)]  # "{uri}" or ""
                    full = {namespace + name for name in wanted}
                depth += 1
                continue
            depth -= 1
            if depth == 0:
                closed = True
            if elem.tag in full:
                yield elem
            if depth == 1:  # a whole top-level section is done: free it
                elem.clear()
    except ParseError as exc:
        raise ListFormatError(f"malformed or truncated XML: {exc}") from None
    except DefusedXmlException as exc:
        raise ListFormatError(f"refused XML construct: {exc!r}") from None
    if not closed:
        raise ListFormatError("XML ended before its root element closed")


def text(elem: Element | None) -> str:
    """Stripped text of ``elem`` ('' when missing)."""
    return (elem.text or "").strip() if elem is not None else ""


def children(elem: Element, name: str) -> list[Element]:
    """Direct children of ``elem`` named ``name`` (any namespace)."""
    suffix = "}" + name
    return [c for c in elem if c.tag == name or c.tag.endswith(suffix)]


def child(elem: Element, name: str) -> Element | None:
    """The first direct child of ``elem`` named ``name``."""
    found = children(elem, name)
    return found[0] if found else None


def path(elem: Element, *names: str) -> list[Element]:
    """Descendants of ``elem`` along child ``names`` (namespace-agnostic)."""
    level = [elem]
    for name in names:
        level = [c for e in level for c in children(e, name)]
    return level
