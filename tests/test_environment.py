"""pyproject.toml is the one place pins live; environment.yml must carry the same ones."""

import re
import tomllib

import yaml

from replication.book.profiles import SOURCE_ROOT


def _pins(requirements):
    return {re.split(r"[=<>!~ ]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in requirements}


def test_environment_yml_has_the_pyproject_pins():
    project = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((SOURCE_ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    got = _pins(r for r in pip_list if not r.startswith("-e"))
    assert got == wanted
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11" and ">=3.11,<3.12" == project["requires-python"]


def test_every_direct_dependency_is_pinned_exactly():
    project = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.]*", requirement), requirement
