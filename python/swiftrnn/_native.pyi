# The C extension (python/swiftrnn/_csrc): private; the public API wraps it with typed Python functions.
from typing import Any

def __getattr__(name: str) -> Any: ...
