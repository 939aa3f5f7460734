"The package builds, the wheel holds every exported module, and it imports from a clean environment."
import subprocess, sys, sysconfig, venv, zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                   check=True, cwd=ROOT)
    (whl,) = out.glob("bigarts-*.whl")
    return whl


def test_wheel_lists_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "bigarts").rglob("*.py"))
    assert len(modules) > 5
    missing = [m for m in modules if m not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    assert any(n.endswith("entry_points.txt") for n in names)


def test_one_version(wheel):
    "pyproject.toml reads the version from bigarts.__version__ (which nbdev-export keeps), and the wheel carries it."
    import tomllib
    import bigarts
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "bigarts.__version__"}
    assert wheel.name.startswith(f"bigarts-{bigarts.__version__}-")


def test_wheel_imports_in_clean_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # dependencies come from the project venv's site-packages, appended after the clean venv's own
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    mods = [".".join(p.relative_to(ROOT / "bigarts").with_suffix("").parts) for p in (ROOT / "bigarts").rglob("*.py")
            if not p.stem.startswith("_")]   # every module, those of sub-packages (methods.xception, …) too
    code = ("import importlib, bigarts, pathlib; "
            f"[importlib.import_module('bigarts.' + m) for m in {mods!r}]; "
            "print(pathlib.Path(bigarts.__file__).resolve())")
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(env_dir.resolve()) in r.stdout, f"bigarts imported from {r.stdout}, not from the clean venv"
    r = subprocess.run([str(env_dir / "bin" / "bigarts"), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "preprocess" in r.stdout
