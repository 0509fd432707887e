"""The install is the locked one: every package requirements.lock pins is installed at that version."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
#: The packages whose versions decide what a comparison ran: algorithm code and tuned hyperparameters.
DECISIVE = ("stable-baselines3", "sb3-contrib", "rl-zoo3", "gymnasium")


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def test_installed_versions_are_the_locked_ones():
    pins, wrong, checked = locked(), [], 0
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an extra this environment does not install
        checked += 1
        if installed != version:
            wrong.append(f"{name} {installed} (locked {version})")
    assert not wrong, f"installed versions differ from requirements.lock (run `make venv`): {wrong}"
    assert checked > 50 and all(canonicalize_name(name) in pins for name in DECISIVE)


def test_the_lock_covers_every_dependency_but_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    pins = locked()
    names = {canonicalize_name(Requirement(r).name) for r in requirements} - {"torch", "td3-harness"}
    assert names <= set(pins), sorted(names - set(pins))
    assert "torch" not in pins  # TORCH stays the user's choice (a CUDA build, say)
    assert "@ file:" not in (ROOT / "requirements.lock").read_text()  # nothing of this machine, not the project itself
    for requirement in map(Requirement, requirements):
        name = canonicalize_name(requirement.name)
        if name in pins:
            assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])
