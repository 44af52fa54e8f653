"""Builds swiftrnn: the Swift core (via SwiftPM) and the C extension that links against it.

`build_ext` first runs `swift build` for the `swiftrnn_capi` dynamic library with the Swift standard
library linked statically (so the installed package needs no Swift toolchain), then compiles the C
extension against the C ABI header and copies libswiftrnn_capi.so next to it (found via $ORIGIN).
Package metadata lives in pyproject.toml.
"""
import glob
import os
import shutil
import subprocess

import numpy
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
SWIFT_PRODUCT = "swiftrnn_capi"
SWIFT_LIB = f"lib{SWIFT_PRODUCT}.so"
# SWIFTRNN_PORTABLE=1: the core without AVX2/FMA code (Package.swift reads the same variable, by the same
# rule); the extension then skips its import-time AVX2/FMA check, for x86-64 CPUs without them.
PORTABLE = os.environ.get("SWIFTRNN_PORTABLE", "") not in ("", "0")
# A scratch folder of its own, so a release build for Python never fights `swift test`'s .build (and one
# per configuration, so switching between them does not rebuild everything each time).
SCRATCH = os.path.join(ROOT, ".build-python-portable" if PORTABLE else ".build-python")
SWIFT_FLAGS = [
    "-c", "release", "--product", SWIFT_PRODUCT, "--scratch-path", SCRATCH,
    # Static Swift runtime: the .so then needs only libc, libm, libstdc++ and libgcc_s at run time.
    "-Xswiftc", "-static-stdlib", "-Xlinker", "--strip-all",
]


def swift(*args):
    if shutil.which("swift") is None:
        raise RuntimeError("building swiftrnn from source needs the Swift toolchain (swift 6.0+) on PATH")
    return subprocess.run(["swift", "build", *args], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout


def without_host_rpaths(command):
    """The link command without rpaths into the build machine (a pyenv Python puts its own lib folder in
    LDSHARED): the wheel's only search path is $ORIGIN, so nothing points at a folder of the build host."""
    return [arg for arg in command if not (arg.startswith("-Wl,-rpath,") and "$ORIGIN" not in arg)]


class BuildSwiftThenExt(build_ext):
    def build_extensions(self):
        for attr in ("linker_so", "linker_so_cxx"):
            if getattr(self.compiler, attr, None):
                setattr(self.compiler, attr, without_host_rpaths(getattr(self.compiler, attr)))
        super().build_extensions()

    def run(self):
        swift(*SWIFT_FLAGS)
        self.swift_bin = swift(*SWIFT_FLAGS, "--show-bin-path").strip()
        for ext in self.extensions:
            ext.library_dirs.append(self.swift_bin)
        super().run()

    def build_extension(self, ext):
        super().build_extension(ext)
        # The Swift library lives beside the extension module, which finds it through $ORIGIN.
        target_dir = os.path.dirname(self.get_ext_fullpath(ext.name))
        os.makedirs(target_dir, exist_ok=True)
        shutil.copy2(os.path.join(self.swift_bin, SWIFT_LIB), os.path.join(target_dir, SWIFT_LIB))

    def copy_extensions_to_source(self):
        # Editable installs (`pip install -e .`) load from the source tree: the Swift library goes there too.
        super().copy_extensions_to_source()
        for ext in self.extensions:
            package_dir = os.path.join(self.build_lib, *ext.name.split(".")[:-1])
            source_dir = os.path.join(ROOT, "python", *ext.name.split(".")[:-1])
            shutil.copy2(os.path.join(package_dir, SWIFT_LIB), os.path.join(source_dir, SWIFT_LIB))


native = Extension(
    "swiftrnn._native",
    sources=sorted(glob.glob("python/swiftrnn/_csrc/*.c")),
    depends=glob.glob("python/swiftrnn/_csrc/*.h") + glob.glob("Sources/CSwiftRNN/include/*.h"),
    include_dirs=[numpy.get_include(), os.path.join("Sources", "CSwiftRNN", "include")],
    libraries=[SWIFT_PRODUCT],
    define_macros=[("SRNN_PORTABLE_CORE", "1")] if PORTABLE else [],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wno-unused-parameter"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)

setup(
    package_dir={"": "python"},
    # data/ (the built-in corpus) and _csrc/ (the extension's C sources) hold no Python modules: listed
    # as packages of their own so that setuptools knows what to do with their files.
    packages=find_packages("python", exclude=["tests", "tests.*"]) + ["swiftrnn.data", "swiftrnn._csrc"],
    package_data={"swiftrnn": ["py.typed", "*.pyi"], "swiftrnn.data": ["*"]},
    # The extension's C sources ship in the sdist (MANIFEST.in), not in the wheel.
    exclude_package_data={"swiftrnn._csrc": ["*"]},
    ext_modules=[native],
    cmdclass={"build_ext": BuildSwiftThenExt},
    zip_safe=False,
)
