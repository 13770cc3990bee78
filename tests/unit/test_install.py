"""Every third-party module the code and tests import comes from what the README installs:
the project's dependencies plus its ``test`` extra, with their own requirements."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _installed_closure() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in requires if "extra ==" not in r)
    modules = {d.replace("-", "_") for d in seen}
    for module, dists in metadata.packages_distributions().items():
        if any(d.lower().replace("_", "-") in seen for d in dists):
            modules.add(module)
    return modules


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_import_comes_from_the_readme_install() -> None:
    local = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    provided = _installed_closure() | local | set(sys.stdlib_module_names) | {"__future__"}
    missing: dict[str, list[str]] = {}
    for package in sorted(local):
        for file in sorted((ROOT / package).rglob("*.py")):
            if "target" in file.parts:
                continue
            for module in _imports(file) - provided:
                missing.setdefault(module, []).append(str(file.relative_to(ROOT)))
    # optional accelerators imported inside try/except ImportError are allowed by name
    # run by the Python of a separate RiskLoc checkout (its own virtualenv), never by kpigraph's
    if missing.get("utils") == ["benchmarks/riskloc_driver.py"]:
        missing.pop("utils")
    assert not missing, f"imported but not installed by pip install -e '.[test]': {missing}"
