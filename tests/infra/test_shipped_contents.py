"""What ships to AWS is the runtime distribution only: the zip functions' layer and the container images' build
contexts hold no module of the dev kit (devkit/) nor of the partner client (client/), nor anything that imports them."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from infra.image_function import DOCKERFILE, build_context
from infra.indexer import SPARK_DOCKERFILE, spark_build_context
from infra.layer import REPO_ROOT, stage_layer

DEV_KIT = REPO_ROOT / "devkit" / "exhaust_devkit"
CLIENT = REPO_ROOT / "client" / "exhaust_client"
# Imports that only a machine has: the other two distributions, and moto (local mode's).
NOT_SHIPPED_IMPORTS = {"exhaust_devkit", "exhaust_client", "moto"}
# Folders of a working copy that no build context admits (and that are large): not walked.
UNWALKED = {
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    ".build",
    "build",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


def modules_of(package: Path) -> set[str]:
    """A package's modules by their path inside it (`lake/generator.py`), its `__init__` files left out."""
    return {path.relative_to(package).as_posix() for path in package.rglob("*.py") if path.name != "__init__.py"}


def top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def assert_runtime_only(sources: dict[str, Path]) -> None:
    """`sources`: shipped path inside the `exhaust` package (`lake/store.py`) -> the file."""
    moved = modules_of(DEV_KIT) | modules_of(CLIENT)
    assert moved, "the dev kit and the client have modules"
    assert not sorted(moved & sources.keys())
    importing = {name: sorted(top_level_imports(path) & NOT_SHIPPED_IMPORTS) for name, path in sources.items()}
    assert {name: found for name, found in importing.items() if found} == {}


def test_the_shared_layer_holds_the_runtime_package_only(tmp_path: Path) -> None:
    root = stage_layer(tmp_path) / "python"
    assert sorted(path.name for path in root.iterdir()) == ["exhaust"]
    sources = {path.relative_to(root / "exhaust").as_posix(): path for path in root.rglob("*.py")}
    assert len(sources) > 50
    assert_runtime_only(sources)


def docker_ignore_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` within one path segment, `**` across them; a match on a folder
    covers everything under it."""
    translated = re.escape(pattern).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    return re.compile(translated.replace(r"\?", "[^/]") + "(/.*)?")


def build_context_files(rules: list[str]) -> list[str]:
    """The repository's files Docker sends for these ignore rules: the last rule that matches a path decides."""
    compiled = [(rule.startswith("!"), docker_ignore_pattern(rule.removeprefix("!"))) for rule in rules]
    admitted = []
    for folder, folders, files in os.walk(REPO_ROOT):
        folders[:] = [name for name in folders if name not in UNWALKED]
        for name in files:
            path = (Path(folder) / name).relative_to(REPO_ROOT).as_posix()
            verdicts = [included for included, pattern in compiled if pattern.fullmatch(path)]
            if verdicts and verdicts[-1]:
                admitted.append(path)
    return admitted


@pytest.mark.parametrize(
    ("dockerfile", "rules"),
    [(DOCKERFILE.as_posix(), build_context("builder")), (SPARK_DOCKERFILE, spark_build_context())],
    ids=["function-image", "spark-image"],
)
def test_the_images_are_built_from_the_runtime_distribution_only(dockerfile: str, rules: list[str]) -> None:
    files = build_context_files(rules)
    assert dockerfile in files
    assert "pyproject.toml" in files
    python = [path for path in files if path.endswith(".py")]
    package = "layers/exhaust/"
    assert [path for path in python if not path.startswith((package, "functions/"))] == []
    assert_runtime_only({path.removeprefix(package): REPO_ROOT / path for path in python if path.startswith(package)})
    # The images install the root pyproject.toml: the runtime distribution, whose packages are those under layers/.
    copied = re.findall(r"^COPY (.+) /build/", (REPO_ROOT / dockerfile).read_text(), re.MULTILINE)
    assert " ".join(copied).split() == ["pyproject.toml", "README.md", "requirements.lock", "layers/exhaust"]
