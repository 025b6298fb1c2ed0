"""Every ```python block of docs/*.md runs: each file's blocks in order, in one namespace, so the
examples in the documentation cannot rot."""

import re
from pathlib import Path

import pytest

DOCS = sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number of the block's first code line, code) for every ```python block in a Markdown file."""
    text = path.read_text()
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in BLOCK.finditer(text)]


def test_the_docs_exist_and_have_examples():
    names = {path.name for path in DOCS}
    assert {"autograd.md", "write-an-op.md"} <= names
    assert all(python_blocks(path) for path in DOCS)


def test_blocks_are_found_with_their_line_numbers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\ntext\n\n```bash\nls\n```\n```python\ny = x + 1\n```\n")
    assert python_blocks(page) == [(4, "x = 1\n"), (13, "y = x + 1\n")]


def run_blocks(path: Path) -> dict:
    namespace: dict = {"__name__": f"docs.{path.stem}"}
    for line, code in python_blocks(path):
        exec(compile(code, f"{path.name}, block at line {line}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("path", DOCS, ids=[path.name for path in DOCS])
def test_doc_examples_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    run_blocks(path)


def test_a_raising_block_fails_the_run(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nraise ValueError(x)\n```\n")
    with pytest.raises(ValueError, match="1"):
        run_blocks(page)
