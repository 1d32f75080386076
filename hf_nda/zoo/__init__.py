"""Reference checkpoints (a recipe zoo): ``registry.yaml`` names them, :func:`build` trains and
evaluates one into a Hub-ready folder, :func:`publish` uploads it. CLI: ``hf-nda zoo list|build|publish``."""

from .build import DEFAULT_OUTPUT_DIR, build, recipe_argv
from .publish import publish
from .registry import Metric, ZooEntry, get_entry, registry

__all__ = ["DEFAULT_OUTPUT_DIR", "Metric", "ZooEntry", "build", "get_entry", "publish", "recipe_argv", "registry"]
