"""``hf-nda zoo publish``: upload a built reference model to ``ORG/NAME`` with huggingface_hub."""

from __future__ import annotations

from pathlib import Path

from ..hub import REFERENCE_FILE, push_run, read_results
from .build import DEFAULT_OUTPUT_DIR
from .registry import get_entry


def publish(name: str, output_dir: str | Path = DEFAULT_OUTPUT_DIR, *, org: str | None = None, private: bool = False,
            token: str | None = None, dry_run: bool = False) -> tuple[str, list[str]]:
    """Upload ``output_dir/name`` (built by :func:`hf_nda.zoo.build`) to its repo; returns the repo id
    and the uploaded files (``dry_run``: only lists them). Checkpoints and logs stay local.

    Example:
        >>> from hf_nda.zoo import publish
        >>> repo_id, files = publish("nda-gan-fashion-mnist", dry_run=True)  # doctest: +SKIP
    """
    entry, folder = get_entry(name), Path(output_dir) / name
    info = read_results(folder, REFERENCE_FILE)
    if info is None:
        raise ValueError(f"{folder} is not a built reference model (no {REFERENCE_FILE}); run `hf-nda zoo build {name} "
                         f"--output_dir {output_dir}` first")
    repo_id = entry.repo_id(org)
    if info["repo_id"] != repo_id:
        raise ValueError(f"{folder} was built for {info['repo_id']} (its cards and configs name that repo); rebuild "
                         f"it for {repo_id} with `hf-nda zoo build {name} --org {repo_id.split('/')[0]} --force`")
    if info.get("smoke_build"):
        raise ValueError(f"{folder} is a smoke build (test-sized flags {info['smoke_build']}): its metrics are not the "
                         "reference ones; build it with `hf-nda zoo build` and no overrides before publishing")
    return repo_id, push_run(folder, repo_id, private=private, token=token, dry_run=dry_run)
