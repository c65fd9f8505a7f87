"""The environment under test is the locked one: every package at its locked version, nothing
else installed, and the locks in step with the human-edited requirements they come from.

A machine whose packages drifted (a stray ``pip install``, a lock regenerated but not
installed) would otherwise run, and measure, something other than what ships.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
RUN_LOCK, TEST_LOCK = ROOT / "requirements.lock", ROOT / "requirements-dev.lock"
# What `python -m venv` puts there itself; pip is the installer, not a dependency.
VENV_TOOLS = {"pip"}


def locked(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of a lock file's ``name==version`` pins."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(3)
    return pins


def direct_requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


def test_every_installed_package_is_the_locked_version():
    pins, present = locked(TEST_LOCK), installed()
    wrong = {name: (present.get(name), version) for name, version in pins.items()
             if present.get(name) != version}
    stray = sorted(set(present) - set(pins) - VENV_TOOLS)
    advice = " (make clean test installs the lock afresh)"
    assert not wrong, "installed (found, locked) versions differ from requirements-dev.lock: " \
                      f"{wrong}{advice}"
    assert not stray, f"installed but not in requirements-dev.lock: {stray}{advice}"


def test_the_locks_pin_every_package_exactly_with_hashes():
    for lock in (RUN_LOCK, TEST_LOCK):
        entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text().split("\n", 2)[-1])
        pins = [entry for entry in entries if re.match(r"[A-Za-z0-9]", entry)]
        assert len(pins) == len(locked(lock)) > 50
        assert all("--hash=sha256:" in entry for entry in pins), lock.name


def test_the_app_lock_is_the_test_lock_without_the_test_tools():
    app, tests = locked(RUN_LOCK), locked(TEST_LOCK)
    assert {name: tests.get(name) for name in app} == app  # make run serves what make test tested
    assert {"pytest", "playwright", "jax"} <= set(tests) - set(app)


def test_the_locks_satisfy_the_requirements_they_were_made_from():
    for sources, lock in (((ROOT / "requirements.txt",), RUN_LOCK),
                          ((ROOT / "requirements.txt", ROOT / "requirements-dev.txt"), TEST_LOCK)):
        pins = locked(lock)
        for source in sources:
            for requirement in direct_requirements(source):
                version = pins.get(canonicalize_name(requirement.name))
                assert version is not None, f"{requirement.name} is missing from {lock.name}: make lock"
                assert requirement.specifier.contains(version, prereleases=True), \
                    f"{lock.name} pins {requirement.name}=={version}, outside {source.name}'s " \
                    f"{requirement}: make lock"
