"""Do pip and conda install the same versions, all pinned exactly?"""

import re

import yaml

from autograde.course import REPO

CONDA_NAMES = {"torch": "pytorch"}


def pip_pins(*files: str) -> dict[str, str]:
    pins = {}
    for name in files:
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
            assert match, f"{name}: '{line}' is not an exact pin (name==version)"
            pins[match[1].lower()] = match[2]
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if "==" in line:
                    name, version = line.split("==")
                    pins[name.lower()] = version
        elif "=" in dep and not dep.startswith("python="):
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
    return pins


def test_are_all_pip_requirements_exact_pins():
    assert pip_pins("requirements.txt", "requirements-dev.txt")["torch"] == "2.13.0"


def test_does_environment_yml_carry_the_same_versions_as_pip():
    pip = {CONDA_NAMES.get(k, k): v for k, v in pip_pins("requirements.txt", "requirements-dev.txt").items()}
    assert conda_pins() == pip


def test_do_the_constraints_agree_with_the_requirements():
    constraints = pip_pins("constraints.txt")
    for name, version in pip_pins("requirements.txt", "requirements-dev.txt").items():
        assert constraints.get(name) == version, f"constraints.txt pins {name}=={constraints.get(name)}"


def test_does_environment_yml_ask_for_python_311():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
