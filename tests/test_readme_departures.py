"""README's departures: every bullet names the parameter or function that holds it, and every name it cites exists."""
import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def departures() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Departures from the paper")
    return text[start:text.index("\n## ", start + 1)]


def resolve(name: str):
    "The object a dotted `bigarts.…` name stands for: the longest importable module, then attributes."
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try: obj = importlib.import_module(".".join(parts[:i]))
        except ImportError: continue
        for attr in parts[i:]: obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def test_every_departure_names_what_holds_it():
    bullets = re.findall(r"^- (.+?)(?=^- |^\*\*|\Z)", departures(), flags=re.M | re.S)
    assert len(bullets) >= 15
    for b in bullets: assert re.search(r"`bigarts\.[\w.]+`", b), b[:80]


def test_every_cited_name_exists():
    names = set(re.findall(r"`(bigarts\.[\w.]+)`", departures()))
    missing = []
    for n in sorted(names):
        try: resolve(n)
        except (ImportError, AttributeError): missing.append(n)
    assert not missing, missing
