"""The optional native scanner (snake_pipe_core/analysis/_scanner.c).

Everything else is configured in pyproject.toml. Without a C compiler or Python's headers the
build goes on without the extension and snake-pipe runs its pure-Python path (it says so, once,
with how to get the fast path).
"""

import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE = "snake_pipe_core/analysis/_scanner.c"
HINT = (
    "install a C compiler and Python's headers (Debian: apt-get install gcc python3-dev) "
    "and run `pip install -e .` again"
)


class OptionalBuildExt(build_ext):
    """Build the scanner when possible; never fail the install because of it."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler at all (setuptools' own error types vary)
            self._skip(e)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # compiler or headers missing, or a failed compile
            self._skip(e)

    @staticmethod
    def _skip(e: Exception) -> None:
        sys.stderr.write(
            f"\nsnake-pipe: the native scanner was not built ({e}); the pure-Python path will "
            f"be used. For the fast path, {HINT}.\n\n"
        )


source_sha = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()
setup(
    ext_modules=[
        Extension(
            "snake_pipe_core.analysis._scanner",
            sources=[SOURCE],
            define_macros=[("SCANNER_SOURCE_SHA", f'"{source_sha}"')],
            extra_compile_args=["-O3", "-std=c11"] if sys.platform != "win32" else [],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
