"""docs/benchmarks.md holds one section per benchmark, each between its own markers.

Each benchmark script rewrites only its section (``<!-- NAME:start -->`` ...
``<!-- NAME:end -->``), so that running one benchmark never erases another's figures.
A section that is not there yet is appended at the end.
"""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "One section per benchmark, each written by its script between markers; the command\n"
    "that reproduces it is at the top of each section.\n"
)


def write_section(name: str, text: str, path: Path = DOC) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    doc = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if start in doc and end in doc:
        before = doc[: doc.index(start)]
        after = doc[doc.index(end) + len(end):].lstrip("\n")
        doc = before + block + ("\n" + after if after else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    path.write_text(doc, encoding="utf-8")
