"""Build hook: wheels carry the zoo (models/), the viewer app (apps/) and its Streamlit
config, under segtf/_bundled/, so an installed segtf works outside the source checkout.
Everything else is in pyproject.toml."""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
BUNDLED = ("models", "apps", ".streamlit")


class BuildWithBundledFiles(build_py):
    def run(self):
        super().run()
        target = pathlib.Path(self.build_lib) / "segtf" / "_bundled"
        for name in BUNDLED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )


setup(cmdclass={"build_py": BuildWithBundledFiles})
