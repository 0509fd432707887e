"""The package map holds: imports run down the stages, and the report reads files without the training stack."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "study"
#: harness's stages, lowest first (harness/__init__.py draws the map); the shared top-level modules sit under all.
STAGES = ("", "config", "agents", "run", "verify", "study", "execution", "tuning", "report", "cli")
#: The shared modules every stage may import: errors, formatting, and the sequential test (pure statistics).
SHARED = ("errors", "fmt", "sequential")
#: What the report may import of the harness: the run-directory format, configuration files, shared modules.
REPORT_MAY_IMPORT = (
    "harness.report",
    "harness.run.rundir",
    "harness.run.record",
    "harness.run.results",
    "harness.config",
    "harness.errors",
    "harness.fmt",
    "harness.sequential",
)


def _stage(module: str) -> int:
    parts = module.split(".")
    if module == "harness.__main__":
        return len(STAGES) - 1  # the entry point sits with the CLI
    if len(parts) == 1 or parts[1] in SHARED:
        return 0
    return STAGES.index(parts[1])


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "harness").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every harness and custom_td3 module ``path`` imports, at any depth (function-level too):
    ``from a.b import c`` imports module ``a.b.c`` if there is one, else names from ``a.b``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] in ("harness", "custom_td3")}


def test_every_stage_is_a_package_with_a_docstring():
    for stage in STAGES[1:]:
        init = ROOT / "harness" / stage / "__init__.py"
        assert init.is_file(), stage
        assert ast.get_docstring(ast.parse(init.read_text())), f"harness/{stage}/__init__.py has no docstring"


def test_imports_never_run_from_a_lower_stage_to_a_higher_one():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for imported in _imports(path, modules):
            if imported.startswith("custom_td3"):
                continue
            if _stage(imported) > _stage(name):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def test_the_shared_modules_import_only_each_other():
    modules = _modules()
    for name, path in modules.items():
        if _stage(name) == 0 and name != "harness.__main__" and name != "harness":
            outside = [m for m in _imports(path, modules) if _stage(m) != 0 or m == "harness"]
            assert not outside, (name, outside)


def test_our_td3_imports_nothing_from_the_harness():
    for path in (ROOT / "custom_td3").rglob("*.py"):
        assert not any(m.startswith("harness") for m in _imports(path, {})), path


def test_the_report_imports_only_the_run_directory_format_and_configuration():
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("harness.report"):
            outside = [m for m in _imports(path, modules) if not m.startswith(REPORT_MAY_IMPORT)]
            assert not outside, (name, outside)


def test_make_report_loads_neither_torch_nor_sb3_nor_the_agents(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(FIXTURE, study)
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"assert main(['report', '--study', 'study', '--results', {str(tmp_path)!r}, '--bootstrap-reps', '50']) == 0\n"
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'sb3_contrib', 'harness.agents', 'custom_td3') "
        "if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (study / "report.md").is_file()


def test_every_registered_arm_has_a_fixed_place_and_colour_in_reports():
    from harness.agents import known_arms
    from harness.report.arms import ARM_ORDER, arm_colors, arm_order

    assert set(known_arms()) <= set(ARM_ORDER)
    assert arm_order(["zeta", "random", "alpha", "td3"]) == ["td3", "random", "alpha", "zeta"]
    assert arm_colors(["td3", "mine"])["td3"] == arm_colors(["td3"])["td3"]


@pytest.mark.parametrize(
    "command",
    [
        ["compare", "--env", "Pendulum-v1", "--dry-run", "--no-estimate"],
        ["tune", "--env", "Pendulum-v1", "--algo", "td3"],
        ["report"],
    ],
)
@pytest.mark.parametrize("name", ["../../somewhere", "/abs", "a/b", "..", ".hidden", "-x", ""])
def test_a_study_name_must_be_a_plain_name(run_cli, tmp_path, command, name):
    code, out, err = run_cli(*command, f"--study={name}", "--results", tmp_path / "results")
    assert code == 2
    assert "is not a plain study name" in err and "accepted: letters, digits" in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "somewhere").exists()
    assert "Study" not in out
