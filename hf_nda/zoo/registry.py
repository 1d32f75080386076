"""The zoo's registry (``registry.yaml``): one entry per reference model, read into :class:`ZooEntry`."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

import yaml

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")
RECIPES = Path(__file__).parents[1] / "recipes"
EVALUATIONS = ("ood", "probe", "training")
REFERENCE = "zoo:"  # an override value naming another entry's built folder


@dataclasses.dataclass(frozen=True)
class Metric:
    """A number the build reports: ``value`` is ``FILE:KEY.PATH`` inside the run folder."""

    name: str
    value: str
    type: str

    @property
    def file(self) -> str:
        return self.value.split(":", 1)[0]

    @property
    def keys(self) -> list[str]:
        return self.value.split(":", 1)[1].split(".")

    def read(self, folder: Path) -> float | None:
        """The metric's value in a built folder (None if not measured yet)."""
        path = folder / self.file
        if not path.exists():
            return None
        if path.suffix == ".jsonl":  # the training log: the last record that has the key
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            found = [r[self.keys[0]] for r in records if self.keys[0] in r]
            return float(found[-1]) if found else None
        node = json.loads(path.read_text())
        for key in self.keys:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node)


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A reference model: a recipe, its evaluation, the metrics it reports and where it is published.

    Example:
        >>> from hf_nda.zoo import registry
        >>> entry = registry()["nda-gan-fashion-mnist"]
        >>> entry.family, entry.repo_id()
        ('gan', 'hf-nda/nda-gan-fashion-mnist')
    """

    name: str
    family: str
    recipe: str
    dataset: str
    summary: str
    intended_use: str
    not_for: str
    limitations: str
    evaluation: dict
    metrics: tuple[Metric, ...]
    org: str
    overrides: dict = dataclasses.field(default_factory=dict)

    def repo_id(self, org: str | None = None) -> str:
        return f"{org or self.org}/{self.name}"

    def recipe_flags(self) -> dict:
        """The recipe file's flags with the entry's overrides (``zoo:NAME`` references unresolved)."""
        flags = yaml.safe_load((RECIPES / f"{self.recipe}.yaml").read_text())
        return {**flags, **self.overrides}

    def requires(self) -> list[str]:
        """The entries whose built folders this one trains on (``zoo:NAME`` override values)."""
        return [v[len(REFERENCE):] for v in self.overrides.values() if isinstance(v, str) and v.startswith(REFERENCE)]


@cache
def registry(path: str | Path = REGISTRY_FILE) -> dict[str, ZooEntry]:
    """All entries of the registry file, checked (family, recipe file, evaluation, metric files)."""
    from ..trainers import TRAINER_MODULES

    data = yaml.safe_load(Path(path).read_text())
    entries = {}
    for name, raw in data["models"].items():
        try:
            raw = dict(raw)
            metrics = tuple(Metric(**m) for m in raw.pop("metrics"))
            entry = ZooEntry(name=name, metrics=metrics, org=data["org"], **raw)
        except TypeError as error:  # a missing or unknown field
            raise ValueError(f"zoo registry {path}, entry {name!r}: {error}") from None
        problems = [f"family {entry.family!r} is not one of {sorted(TRAINER_MODULES)}"] * (entry.family not in TRAINER_MODULES)
        problems += [f"no recipe file {RECIPES / entry.recipe}.yaml"] * (not (RECIPES / f"{entry.recipe}.yaml").exists())
        problems += [f"evaluation kind must be one of {EVALUATIONS}"] * (entry.evaluation.get("kind") not in EVALUATIONS)
        problems += [f"metric {m.name!r}: value must be FILE:KEY" for m in metrics if ":" not in m.value]
        problems += [f"requires unknown entry {r!r}" for r in entry.requires() if r not in data["models"]]
        if problems:
            raise ValueError(f"zoo registry {path}, entry {name!r}: " + "; ".join(problems))
        entries[name] = entry
    return entries


def get_entry(name: str) -> ZooEntry:
    entries = registry()
    if name not in entries:
        raise ValueError(f"no reference model {name!r} in the zoo; `hf-nda zoo list` shows them: {', '.join(entries)}")
    return entries[name]
