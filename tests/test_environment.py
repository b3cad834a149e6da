"""environment.yml, the Binder/conda environment: conda-forge only, Python 3.11, CPU-only PyTorch, the
same packages and bounds as pyproject.toml (runtime, lab, test and book), and tutorial_lib from the checkout.

Docker is not available here, so the file is checked, not built. How repo2docker reads it (checked in
its source, repo2docker/buildpacks/conda/__init__.py): an environment.yml at the root selects the conda
buildpack, which ignores requirements.txt and pyproject.toml; a local pip entry such as `-e .` makes it
copy the repository into the image before installing the environment (`_should_preassemble_env`)."""
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names of the packages whose conda name differs from the PyPI one.
CONDA_TO_PYPI = {"pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
NOT_IN_PYPROJECT = {"python", "pip"}  # the interpreter and the installer of the pip section
GPU_PACKAGES = re.compile(r"^(pytorch|pytorch-gpu|pytorch-cuda|cudatoolkit|cuda-.*|nvidia-.*|cudnn|nccl|torch)$")
CONDA_SPEC = re.compile(r"^(?:(?P<channel>[\w.\-]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


@pytest.fixture(scope="module")
def environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert isinstance(env, dict), "environment.yml must be a mapping with channels and dependencies"
    return env


@pytest.fixture(scope="module")
def conda_packages(environment):
    """{name: (version spec, build string or '')} of the conda dependencies (not the pip section)."""
    packages = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            continue
        match = CONDA_SPEC.match(str(entry).strip())
        assert match, f"cannot read the conda spec {entry!r}"
        assert not match["channel"], f"{entry!r} names a channel; the environment uses conda-forge only"
        version, _, build = match["rest"].strip().partition(" ")
        assert match["name"] not in packages, f"{match['name']} is listed twice"
        packages[match["name"]] = (version.strip(), build.strip())
    return packages


@pytest.fixture(scope="module")
def pip_entries(environment):
    sections = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert len(sections) == 1 and isinstance(sections[0], list), "expected one `pip:` list"
    return sections[0]


def _pyproject_requirements(extras=("lab", "test", "book")):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + [r for extra in extras for r in optional[extra]]]


def test_conda_forge_only(environment):
    assert environment["channels"] == ["conda-forge"]
    for bad in ("defaults", "pytorch", "nvidia", "anaconda"):
        assert bad not in environment["channels"]


def test_python_311(conda_packages):
    assert conda_packages["python"][0] in ("=3.11", "==3.11", "3.11")


def test_cpu_only_pytorch(conda_packages):
    assert "pytorch-cpu" in conda_packages, "name the CPU-only build: pytorch-cpu"
    gpu = [name for name in conda_packages if GPU_PACKAGES.match(name)]
    assert not gpu, f"GPU or unpinned builds of PyTorch: {gpu}"
    for name, (_, build) in conda_packages.items():
        assert "cuda" not in build.lower(), f"{name} asks for a CUDA build"


def test_same_packages_and_lower_bounds_as_pyproject(conda_packages):
    wanted = {req.name.lower(): req for req in _pyproject_requirements()}
    named = {CONDA_TO_PYPI.get(name, name).lower(): spec for name, (spec, _) in conda_packages.items()
             if name not in NOT_IN_PYPROJECT}
    assert set(named) == set(wanted), (f"missing from environment.yml: {sorted(set(wanted) - set(named))}; "
                                       f"not in pyproject.toml: {sorted(set(named) - set(wanted))}")
    for name, req in wanted.items():
        assert SpecifierSet(named[name].replace(" ", "")) == req.specifier, \
            f"{name}: environment.yml says {named[name]!r}, pyproject.toml {req.specifier}"


def test_pip_installs_only_tutorial_lib_from_the_checkout(conda_packages, pip_entries):
    assert "pip" in conda_packages, "list pip itself before the pip section"
    assert [entry.strip() for entry in pip_entries] == ["-e ."]


def test_repo2docker_sees_a_local_pip_entry(pip_entries):
    """repo2docker stages the whole repository before the environment only when a pip line is local:
    after stripping an option such as `-e`, the path starts with '.' (or is a file:// URL)."""
    def is_local(line):
        line = line.split("#", 1)[0].strip()
        if line.startswith("-"):
            parts = line.split(None, 1)
            line = parts[1] if len(parts) > 1 else ""
        return "file://" in line or line.startswith(".")

    assert any(is_local(line) for line in pip_entries)
    assert not is_local("torch>=2.1") and is_local("-e .") and is_local("./")


def test_root_environment_is_the_one_binder_uses():
    """A binder/ or .binder/ folder, or a Dockerfile, would make repo2docker ignore the root environment.yml."""
    for overriding in ("binder", ".binder", "Dockerfile"):
        assert not (ROOT / overriding).exists(), f"{overriding} would override environment.yml on Binder"


def test_colab_keeps_its_own_torch():
    """pyproject.toml asks only for lower bounds, so installing tutorial_lib on Colab leaves Colab's
    torch in place instead of pulling a second one."""
    for req in _pyproject_requirements(extras=("lab", "test")):
        for spec in req.specifier:
            assert spec.operator == ">=", f"{req}: use a lower bound only (exact pins live in requirements.txt)"


def test_book_extra_is_jupyter_book_1():
    """The website needs Jupyter Book 1: version 2 downloads its theme from the network on its first build."""
    (book,) = _pyproject_requirements(extras=("book",))[-1:]
    assert book.name == "jupyter-book"
    assert book.specifier.contains("1.0.4.post1") and not book.specifier.contains("2.0.0")


def test_requirements_pins_meet_pyproject_bounds():
    """Every package requirements.txt pins exactly lies within pyproject.toml's bounds for it."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"requirements.txt should pin exactly: {line}"
            pins[req.name.lower()] = spec.version
    wanted = _pyproject_requirements()
    assert {r.name.lower() for r in wanted} <= set(pins), "a pyproject.toml requirement is not pinned"
    for req in wanted:
        assert req.specifier.contains(pins[req.name.lower()], prereleases=True), \
            f"requirements.txt pins {req.name}=={pins[req.name.lower()]}, outside pyproject.toml's {req.specifier}"
