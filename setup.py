"""What pyproject.toml cannot say: the checkout's ``assets/`` ships inside the package.

The wheel maps ``assets/`` to ``uqcore/assets`` (every file of ``assets/models`` and
``assets/samples``, by pattern: new models need no edit here), so an installed ``uqcore`` finds its
zoo and samples without the checkout; ``uqcore.models.registry.bundled_assets`` prefers that copy
and falls back to the checkout's ``assets/``. The checkout keeps the one copy of each file.
Everything else (metadata, dependencies, extras, the ``uqcore`` command) is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["uqcore", "uqcore.*"]), "uqcore.assets"],
    package_dir={"uqcore.assets": "assets"},
    package_data={"uqcore.assets": ["models/**/*", "samples/**/*"]},
    exclude_package_data={"uqcore.assets": ["**/__pycache__/*", "**/*.pyc", "**/.*"]},
)
