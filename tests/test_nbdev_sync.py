"Notebooks are the source of truth: exporting and cleaning a copy of the tree must change nothing."
import shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tracked_and_new():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).is_file()]


def test_export_and_clean_change_nothing(tmp_path):
    files = [f for f in _tracked_and_new() if f.startswith(("nbs/", "bigarts/")) or f == "pyproject.toml"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, tmp_path / f)
    before = {f: (tmp_path / f).read_bytes() for f in files}
    for cmd in ("nbdev-export", "nbdev-clean"):
        subprocess.run([str(BIN / cmd)], cwd=tmp_path, check=True, capture_output=True)
    after = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    changed = sorted(f for f in before if after.get(f) != before[f])
    added = sorted(set(after) - set(before))
    assert not changed, f"nbdev-export/nbdev-clean would change: {changed} — run both and commit"
    assert not added, f"nbdev-export would create: {added} — run it and commit"
