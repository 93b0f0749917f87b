"""Build hook: ship `mesascope-gymnasium.pth`, which makes `gymnasium.make("mesascope/...")` work
without importing mesascope (Gymnasium 1.x dropped the entry-point plugin loader; see
docs/decisions.md). Everything else about the package lives in pyproject.toml."""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "mesascope-gymnasium.pth"
# A .pth line starting with "import" runs at interpreter start; this one only imports a tiny
# module that waits for gymnasium to be imported (it imports neither gymnasium nor JAX itself).
PTH_LINE = "import mesascope.gym_plugin; mesascope.gym_plugin.install()\n"


class BuildPyWithPth(build_py):
    """build_py that also writes the .pth file at the top of the build (site-packages when installed)."""

    def run(self) -> None:
        super().run()
        os.makedirs(self.build_lib, exist_ok=True)
        with open(os.path.join(self.build_lib, PTH_NAME), "w", encoding="utf-8") as handle:
            handle.write(PTH_LINE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH_NAME)]



class EditableWheelWithPth(editable_wheel):
    """editable_wheel that puts the same .pth at the top of the editable wheel.

    Editable wheels drop build_py's extra outputs, so the file is written into the unpacked
    wheel next to setuptools' own namespace .pth files (the hook setuptools uses for those)."""

    def _install_namespaces(self, installation_dir, pth_prefix):  # noqa: ANN001 (setuptools' signature)
        super()._install_namespaces(installation_dir, pth_prefix)
        with open(os.path.join(installation_dir, PTH_NAME), "w", encoding="utf-8") as handle:
            handle.write(PTH_LINE)


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
