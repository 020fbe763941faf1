"""What pyproject.toml cannot say: the checkout's ``assets/`` ships inside the package.

The wheel maps ``assets/`` to ``uqcore/assets`` (every file of ``assets/models`` and
``assets/samples``, by pattern: new models need no edit here), so an installed ``uqcore`` finds its
zoo and samples without the checkout; ``uqcore.models.registry.bundled_assets`` prefers that copy
and falls back to the checkout's ``assets/``. The checkout keeps the one copy of each file.
Everything else (metadata, dependencies, extras, the ``uqcore`` command) is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

# assets/ and its folders as (data-only) packages: setuptools wants every importable folder that
# holds package data listed; the files themselves are picked by the patterns below
ASSET_FOLDERS = find_namespace_packages("assets", exclude=["*__pycache__*"])
ASSET_PACKAGES = ["uqcore.assets", *(f"uqcore.assets.{p}" for p in ASSET_FOLDERS)]


class FreshBuildPy(build_py):
    """Start from an empty ``build/lib/uqcore``: an in-tree build (``pip install .``) otherwise keeps
    what an earlier build copied there, and a module since moved or removed would ship again."""

    def run(self):
        shutil.rmtree(Path(self.build_lib) / "uqcore", ignore_errors=True)
        super().run()


setup(
    cmdclass={"build_py": FreshBuildPy},
    packages=[*find_packages(include=["uqcore", "uqcore.*"]), *ASSET_PACKAGES],
    package_dir={"uqcore.assets": "assets"},
    package_data={"uqcore.assets": ["models/**/*", "samples/**/*"], "uqcore.paper": ["*.csv"]},  # + the paper's numbers
    exclude_package_data={"uqcore.assets": ["**/__pycache__/*", "**/*.pyc", "**/.*"]},
)
