"""Every ```python block of docs/*.md runs -- each file's blocks in order, in one namespace -- and shows what it
says: a `print(...)` followed by a comment (`# [4. 5. 6.]`, or comment lines below it) must print that, and every
print must run (one inside an `except` proves the error happened). So the examples in the documentation cannot rot.

What a comment claims: the text before an explanation after ": " (`# [8.]: 4 + 4, accumulated`), the start of
the output when it ends with "..." (`# gradcheck (full) passed: ...`), numbers within one unit of the last digit
shown after "about" (`# about [2.718]`), or, for comment lines below a print, every line exactly."""

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

GENERATED = {"results.md", "speed.md"}  # written by the --markdown output of bench/baselines.py, bench/bench_step.py
DOCS = sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NUMBER = re.compile(r"-?\d+\.?\d*(?:e-?\d+)?")


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number of the block's first code line, code) for every ```python block in a Markdown file."""
    text = path.read_text()
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in BLOCK.finditer(text)]


def expected_prints(code: str) -> dict[int, tuple[str, bool] | None]:
    """Line of each print call -> (the comment claiming its output, whether it is whole lines below it), or None."""
    comments = {token.start[0]: token.string[1:].strip() for token in tokenize.generate_tokens(
        io.StringIO(code).readline) if token.type == tokenize.COMMENT}
    lines = code.splitlines()
    result: dict[int, tuple[str, bool] | None] = {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            end = node.end_lineno
            if end in comments and lines[end - 1].split("#")[0].strip():
                result[node.lineno] = (comments[end], False)
                continue
            below = []
            while end < len(lines) and lines[end].lstrip().startswith("#"):
                below.append(comments[end + 1])
                end += 1
            result[node.lineno] = ("\n".join(below), True) if below else None
    return result


def shows(printed: str, claim: str, whole_lines: bool) -> bool:
    def squeeze(text):
        return " ".join(text.split())

    if whole_lines:
        return [squeeze(line) for line in printed.splitlines()] == [squeeze(line) for line in claim.splitlines()]
    if claim.startswith("about "):
        shown = claim[len("about "):].split("]")[0] if claim[len("about "):].startswith("[") else claim.split()[1]
        expected, found = NUMBER.findall(shown), NUMBER.findall(printed)
        return len(expected) == len(found) and all(
            abs(float(e) - float(f)) <= 10.0 ** -len(e.partition(".")[2].partition("e")[0]) + 1e-12
            for e, f in zip(expected, found, strict=True))
    if "..." in claim:
        return squeeze(printed).startswith(squeeze(claim.split("...")[0]))
    return squeeze(printed) == squeeze(claim.split(": ")[0])


def run_blocks(path: Path) -> dict:
    """Run the file's blocks in one namespace, checking their prints; returns the namespace."""
    namespace: dict = {"__name__": f"docs.{path.stem}"}
    for line, code in python_blocks(path):
        name = f"{path.name}, block at line {line}"
        expected = expected_prints(code)
        printed: dict[int, list[str]] = {}

        def record(*args, sep=" ", end="\n", file=None, flush=False, name=name, printed=printed):
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename != name:
                frame = frame.f_back
            text = io.StringIO()
            print(*args, sep=sep, end="", file=text)
            if frame is not None:
                printed.setdefault(frame.f_lineno, []).append(text.getvalue())
            print(*args, sep=sep, end=end, file=file, flush=flush)

        namespace["print"] = record
        exec(compile(code, name, "exec"), namespace)
        for number, claim in expected.items():
            where = f"{path.name}, line {line + number - 1}"
            assert number in printed, f"{where}: this print never ran"
            if claim is not None:
                for output in printed[number]:
                    assert shows(output, *claim), f"{where}: printed {output!r}, the comment says {claim[0]!r}"
    namespace.pop("print", None)
    return namespace


def test_the_docs_exist_and_have_examples():
    names = {path.name for path in DOCS}
    assert {"autograd.md", "write-an-op.md", "pytorch.md", "train.md"} <= names
    # the generated tables (results, speed) are the output of bench scripts; the hand-written pages all show code
    assert all(python_blocks(path) for path in DOCS if path.name not in GENERATED)


def test_blocks_are_found_with_their_line_numbers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\ntext\n\n```bash\nls\n```\n```python\ny = x + 1\n```\n")
    assert python_blocks(page) == [(4, "x = 1\n"), (13, "y = x + 1\n")]


@pytest.mark.parametrize("path", DOCS, ids=[path.name for path in DOCS])
def test_doc_examples_run_and_print_what_they_say(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    run_blocks(path)


def test_a_raising_block_fails_the_run(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nraise ValueError(x)\n```\n")
    with pytest.raises(ValueError, match="1"):
        run_blocks(page)


@pytest.mark.parametrize(("code", "message"), [
    ("print(1 + 1)   # 3\n", "printed '2', the comment says '3'"),
    ("print([1.0])   # about [1.2]\n", "the comment says 'about [1.2]'"),
    ("try:\n    x = 1\nexcept ValueError as error:\n    print(error)\n", "this print never ran"),
    ("print('a')\n# a\n# b\n", "the comment says 'a\\nb'"),
])
def test_a_block_that_prints_something_else_than_it_says_fails(code, message, tmp_path, capsys):
    page = tmp_path / "wrong.md"
    page.write_text(f"```python\n{code}```\n")
    with pytest.raises(AssertionError, match=re.escape(message)):
        run_blocks(page)


def test_claims_are_read_as_documented():
    assert shows("None False", "None False: nothing is recorded", False)
    assert shows("gradcheck (full) passed: 12 values compared, max abs error 1e-9", "gradcheck (full) passed: 12 "
                 "values compared, ...", False)
    assert shows("[2.71814593]", "about [2.718], i.e. 1.0001 ** 10000", False)
    assert not shows("[2.7196]", "about [2.718], i.e. 1.0001 ** 10000", False)
    assert shows("[-0.6666667 -0.33333334  0.  0.33333334  0.75]", "about [-0.667 -0.333  0.  0.333  0.75]", False)
