"""Every module a DVC stage runs is a dependency of that stage, so no edit can leave a stale output.

For each stage of `dvc.yaml`, the modules its notebook reaches are derived from the code: the `bigarts` imports of the
notebook's code cells, then, transitively, those of each module reached (top-level or inside a function, absolute or
relative, in a sub-package such as `bigarts.methods` too, whose modules are `bigarts/methods/<name>.py` and whose own code
is its `__init__.py`; importing a module runs its packages' `__init__.py`; and the comparison networks that
`bigarts.methods` imports by name when a method is built, `_lazy("xception", …)`: `bigarts.methods.xception`)."""
import ast, json, re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _file(mod: str) -> Path | None:
    "The source of `bigarts.<mod>` (`mod` dotted): `bigarts/<a>/<b>.py` or, for a package, `bigarts/<a>/<b>/__init__.py`."
    p = ROOT / "bigarts" / Path(*mod.split("."))
    return next((f for f in (p.with_name(p.name + ".py"), p / "__init__.py") if f.is_file()), None)


def _package(f: Path) -> list[str]:
    "The package of source file `f`, as parts below `bigarts` ([] for bigarts itself, ['methods'] for bigarts/methods/x.py)."
    return list(f.relative_to(ROOT / "bigarts").parent.parts)


def _imports(code: str, package: list[str] = []) -> set[str]:
    """The bigarts modules (dotted, below `bigarts`) that `code` imports: absolute, relative to its `package`, or by name
    through `bigarts.methods._lazy` (a module of `bigarts.methods`)."""
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import): out |= {a.name.partition(".")[2] for a in node.names if a.name.startswith("bigarts.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level: base = package[:len(package) - node.level + 1] if node.level - 1 <= len(package) else None
            else: base = node.module.split(".")[1:] if node.module == "bigarts" or node.module.startswith("bigarts.") else None
            if base is None: continue
            if node.level and node.module: base = base + node.module.split(".")
            mod = ".".join(base)
            if mod: out.add(mod)
            out |= {".".join(base + [a.name]) for a in node.names if _file(".".join(base + [a.name]))}   # `from pkg import module`
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_lazy" and isinstance(node.args[0], ast.Constant):
            out.add(f"methods.{node.args[0].value}")
    # importing a.b runs a's __init__.py first
    out |= {".".join(m.split(".")[:i]) for m in out for i in range(1, m.count(".") + 1)}
    return {m for m in out if _file(m)}


def reached(code: str) -> set[str]:
    "`bigarts/…/<module>.py` (or a package's `__init__.py`) of every module `code` reaches."
    seen, todo = set(), list(_imports(code))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m); f = _file(m); todo += _imports(f.read_text(), _package(f))
    return {_file(m).relative_to(ROOT).as_posix() for m in seen}


def test_the_scan_sees_every_kind_of_import():
    assert _imports("import bigarts.video\nfrom bigarts.core import x\nfrom bigarts import synth\ndef f():\n    from .cache import y\n"
                    "_lazy('gsrm', 'GSRM')") == {"video", "core", "synth", "cache", "methods", "methods.gsrm"}
    # inside the sub-package bigarts.methods: its own __init__, a sibling module, a module of the parent package
    assert _imports("from . import ComparisonNet\nfrom .xception import XceptionBackbone\nfrom ..model import load_weights",
                    ["methods"]) == {"methods", "methods.xception", "model"}
    assert _imports("import bigarts.methods.rfm\nfrom bigarts.methods import capsule, build_method") == \
        {"methods", "methods.rfm", "methods.capsule"}
    assert _file("methods") == ROOT / "bigarts/methods/__init__.py" and _file("methods.xception") == ROOT / "bigarts/methods/xception.py"
    assert {f"bigarts/methods/{m}.py" for m in ("__init__", "xception", "mesonet", "capsule", "gsrm", "rfm")} | \
        {"bigarts/model.py", "bigarts/core.py"} <= reached("from bigarts.runs import run_config")
    assert "bigarts/methods/xception.py" in reached("from bigarts.methods.rfm import RFM")    # rfm → .xception


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_module_a_stage_runs_is_its_dependency(stage):
    st = STAGES[stage].get("do", STAGES[stage])   # a `foreach` stage keeps its definition under `do`
    nb = re.search(r"nbs/experiments/\S+\.ipynb", st["cmd"])[0]
    code = "\n".join("".join(c["source"]) for c in json.loads((ROOT / nb).read_text())["cells"] if c["cell_type"] == "code")
    need = reached(code)
    assert nb in st["deps"] and need, stage
    assert not need - set(st["deps"]), f"stage {stage} runs {sorted(need - set(st['deps']))} but does not depend on them (dvc.yaml)"
    assert not {d for d in st["deps"] if d.startswith("bigarts/")} - need, f"stage {stage} depends on modules it never runs"
