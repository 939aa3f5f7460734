"""The committed tables, Fig. 9's points and the metrics files pass the audit of tests/audit.py (every number recomputed
from the saved scores, apart from the code that wrote them); a changed number, a number left out of a cell, and a
README whose headline table is not tables/table1.md are caught."""
import shutil
from pathlib import Path

import pandas as pd

from audit import audit
from bigarts.report import readme_main

ROOT = Path(__file__).resolve().parents[1]


def test_committed_outputs_pass_the_audit():
    assert audit(ROOT) == []


def test_the_readme_shows_table1():
    assert readme_main(["--check", "--readme", str(ROOT / "README.md"), "--table", str(ROOT / "tables/table1.md")]) == 0


def _copy(tmp_path):
    for d in ("tables", "results"):
        shutil.copytree(ROOT / d, tmp_path / d)
    return tmp_path


def test_the_audit_catches_a_changed_number(tmp_path):
    root = _copy(tmp_path)
    f = root / "tables/table8.csv"
    d = pd.read_csv(f, keep_default_na=False, na_values=[""])
    i = d.ours.first_valid_index()
    d.loc[i, "ours"] += 0.01
    d.to_csv(f, index=False)
    problems = audit(root, ["table8"], figure=False, metrics=False)
    assert any(p.startswith(f"tables/table8.csv BiG-Arts × {d.column[i]}: value") for p in problems), problems


def test_the_audit_catches_a_number_left_out(tmp_path):
    root = _copy(tmp_path)
    f = root / "tables/table1.csv"
    d = pd.read_csv(f, keep_default_na=False, na_values=[""])
    i = d.ours.first_valid_index()
    d.loc[i, ["ours", "lo", "hi"]] = float("nan")
    d.loc[i, "interval"] = ""
    d.to_csv(f, index=False)
    problems = audit(root, ["table1"], figure=False, metrics=False)
    assert any(f"{d.setting[i]} × {d.column[i]}: value nan but the saved scores give" in p for p in problems), problems
    assert any(f"table1.md {d.setting[i]} × {d.column[i]}: shows" in p for p in problems), problems   # md no longer matches


def test_the_readme_check_fails_on_another_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    assert readme_main(["--check", "--readme", str(readme), "--table", str(ROOT / "tables/table2.md")]) == 1
    assert readme_main(["--readme", str(readme), "--table", str(ROOT / "tables/table2.md")]) == 0
    assert (ROOT / "tables/table2.md").read_text().strip() in readme.read_text()
