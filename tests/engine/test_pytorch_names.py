"""Every name docs/pytorch.md lists under "## Names" exists where the list says (`torch` is tinygrad_np itself,
`Tensor` the tensor methods, `F` tinygrad_np.nn.functional, `nn` tinygrad_np.nn), so the list cannot promise what
the engine does not have."""

import re
from pathlib import Path

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn

DOC = Path(__file__).resolve().parents[2] / "docs" / "pytorch.md"
PLACES = {"torch": tg, "Tensor": Tensor, "F": F, "nn": nn}


def listed_names() -> list[tuple[str, str]]:
    """(place, name) for each name of each bullet of the "## Names" section."""
    section = DOC.read_text().split("\n## Names\n", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", section.split("\n- ", 1)[1])
    listed = []
    for bullet in bullets:
        label, names = bullet.split(":", 1)
        places = re.search(r"\*\*(.+?)\*\*", label).group(1).split(" and ")
        listed += [(place, name) for place in places for name in re.findall(r"`([\w.]+)`", names)]
    return listed


def test_the_names_section_is_read():
    names = listed_names()
    assert len(names) > 100 and ("torch", "cumsum") in names and ("Tensor", "new_zeros") in names


def test_every_listed_name_exists():
    missing = [f"{place}.{name}" for place, name in listed_names() if not hasattr(PLACES[place], name)]
    assert not missing, f"docs/pytorch.md lists names the engine does not have: {missing}"
