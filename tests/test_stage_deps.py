"""Every module a DVC stage runs is a dependency of that stage, so no edit can leave a stale output.

For each stage of `dvc.yaml`, the modules its notebook reaches are derived from the code: the `bigarts` imports of the
notebook's code cells, then, transitively, those of each module reached (top-level or inside a function, and the
comparison networks that `bigarts.methods` imports by name when a method is built, `_lazy("xception", …)`)."""
import ast, json, re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _imports(code: str) -> set[str]:
    "The bigarts modules `code` imports (absolute, relative, or by name through `methods._lazy`)."
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import): out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bigarts.")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1: out |= {mod.split(".")[0]} if mod else {a.name for a in node.names}
            elif mod == "bigarts": out |= {a.name for a in node.names}
            elif mod.startswith("bigarts."): out.add(mod.split(".")[1])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_lazy" and isinstance(node.args[0], ast.Constant):
            out.add(node.args[0].value)
    return {m for m in out if (ROOT / "bigarts" / f"{m}.py").is_file()}


def reached(code: str) -> set[str]:
    "`bigarts/<module>.py` of every module `code` reaches."
    seen, todo = set(), list(_imports(code))
    while todo:
        m = todo.pop()
        if m not in seen: seen.add(m); todo += _imports((ROOT / "bigarts" / f"{m}.py").read_text())
    return {f"bigarts/{m}.py" for m in seen}


def test_the_scan_sees_every_kind_of_import():
    assert _imports("import bigarts.video\nfrom bigarts.core import x\nfrom bigarts import synth\ndef f():\n    from .cache import y\n"
                    "_lazy('gsrm', 'GSRM')") == {"video", "core", "synth", "cache", "gsrm"}
    assert {"bigarts/xception.py", "bigarts/capsule.py", "bigarts/rfm.py"} <= reached("from bigarts.runs import run_config")


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_module_a_stage_runs_is_its_dependency(stage):
    st = STAGES[stage].get("do", STAGES[stage])   # a `foreach` stage keeps its definition under `do`
    nb = re.search(r"nbs/experiments/\S+\.ipynb", st["cmd"])[0]
    code = "\n".join("".join(c["source"]) for c in json.loads((ROOT / nb).read_text())["cells"] if c["cell_type"] == "code")
    need = reached(code)
    assert nb in st["deps"] and need, stage
    assert not need - set(st["deps"]), f"stage {stage} runs {sorted(need - set(st['deps']))} but does not depend on them (dvc.yaml)"
    assert not {d for d in st["deps"] if d.startswith("bigarts/")} - need, f"stage {stage} depends on modules it never runs"
