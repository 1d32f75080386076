"""The reference-model zoo: every registry entry trains two steps from its recipe and builds into a
complete Hub-ready folder; served by a loopback Hub-API server (olah), each loads by repo id with
``AutoModel`` and its family's pipeline and gives the local folder's outputs; publish lists its files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hf_nda.zoo import build, get_entry, publish, recipe_argv, registry
from hf_nda.zoo.registry import Metric

from ..hub.olah_server import serve_repos

ORG = "hf-nda-test"
# Test-sized flags per entry (same recipes, two steps, small batches and evaluations).
TINY = {
    "gan-fashion-mnist": ({"batch_size": 16, "g_channels": 8, "d_channels": 8}, {"num_images": 64, "fid_samples": 32}),
    "nda-gan-fashion-mnist": ({"batch_size": 16, "g_channels": 8, "d_channels": 8},
                              {"num_images": 64, "fid_samples": 32}),
    "moco-v2-resnet18-fashion-mnist": ({"batch_size": 16, "queue_size": 64}, {"max_train": 256, "max_test": 128}),
    "nda-moco-resnet18-fashion-mnist": ({"batch_size": 16, "queue_size": 64}, {"max_train": 256, "max_test": 128}),
    "amr-mixup-mnist": ({"batch_size": 16}, {"max_train": 256, "max_test": 128}),
    "copgen-nda-gan-fashion-mnist": ({"batch_size": 16, "eval_steps": 2, "eval_latents": 64}, {}),
    "crl-tac-canvas-mnist": ({"batch_size": 8, "num_views": 2}, {"max_train": 128, "max_test": 64}),
}
STEPS = {"max_steps": 2, "save_steps": 0, "sample_steps": 0, "report_to": "none"}


def test_registry_covers_every_family_and_the_tests_cover_every_entry():
    entries = registry()
    assert {e.family for e in entries.values()} == {"gan", "moco", "amr", "copgen", "crl-tac"}
    assert set(TINY) == set(entries)
    assert get_entry("copgen-nda-gan-fashion-mnist").requires() == ["nda-gan-fashion-mnist"]
    with pytest.raises(ValueError, match="no reference model 'nope'.*zoo list"):
        get_entry("nope")


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_recipe_parses_into_its_trainers_arguments(name):
    from hf_nda.trainers import trainer_class
    from hf_nda.trainers.arguments import parse_args
    from hf_nda.zoo.build import train_flags

    entry = get_entry(name)
    (args,) = parse_args(trainer_class(entry.family).arguments_class, recipe_argv(train_flags(entry, Path("zoo"))))
    args.validate()
    assert args.output_dir == f"zoo/{name}"
    for flag, value in entry.overrides.items():
        expected = f"zoo/{value[4:]}" if str(value).startswith("zoo:") else value
        assert getattr(args, flag) == expected


def test_recipe_argv_spells_lists_and_booleans_as_the_trainers_parse_them():
    assert recipe_argv({"nda": ["jigsaw", "cutout"], "center": True, "delta": None, "lr": 1e-4}) == [
        "--nda", "jigsaw", "cutout", "--center", "true", "--lr", "0.0001"]


def test_metric_reads_json_paths_and_the_last_logged_value(tmp_path):
    (tmp_path / "probe_results.json").write_text(json.dumps({"representation": {"d": 0.5}}))
    (tmp_path / "log_history.jsonl").write_text('{"step": 1, "agreement": 0.25}\n{"step": 2, "loss": 1}\n'
                                                '{"step": 3, "agreement": 0.75}\n')
    assert Metric("d", "probe_results.json:representation.d", "x").read(tmp_path) == 0.5
    assert Metric("a", "log_history.jsonl:agreement", "x").read(tmp_path) == 0.75
    assert Metric("m", "probe_results.json:missing", "x").read(tmp_path) is None
    assert Metric("f", "ood_results.json:mean", "x").read(tmp_path) is None


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """Every entry built test-sized (copgen over the tiny nda-gan build)."""
    root = tmp_path_factory.mktemp("zoo")
    for name in ["nda-gan-fashion-mnist", *[n for n in TINY if n != "nda-gan-fashion-mnist"]]:
        flags, evaluation = TINY[name]
        build(name, root, org=ORG, overrides={**STEPS, **flags}, evaluation=evaluation)
    return root


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_built_entry_has_every_part_and_a_card_with_metrics_and_citation(zoo_dir, name):
    from huggingface_hub import ModelCard

    entry, folder = get_entry(name), zoo_dir / name
    info = json.loads((folder / "zoo.json").read_text())
    assert info["repo_id"] == f"{ORG}/{name}" and info["smoke_build"]
    assert [m["name"] for m in info["metrics"]] == [m.name for m in entry.metrics]
    assert all(isinstance(m["value"], float) for m in info["metrics"])
    for part in [folder, *(p for p in folder.iterdir() if (p / "model.safetensors").exists())]:
        assert {"config.json", "model.safetensors", "README.md"} <= {f.name for f in part.iterdir()}, part
    assert (folder / "preprocessor_config.json").exists()
    published = [p for p in folder.rglob("*") if p.relative_to(folder).parts[0] not in ("checkpoints", "logs")]
    assert not [p for p in published if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
    card = ModelCard.load(folder / "README.md")
    results = card.data.eval_results
    assert [(r.metric_name, r.metric_value) for r in results] == [(m["name"], round(m["value"], 4))
                                                                  for m in info["metrics"]]
    assert f"{ORG}/{name}" in card.text and "REPO_ID" not in card.text
    assert "## Citation" in card.text and "@" in card.text.split("## Citation")[1]
    assert entry.not_for[:40] in card.text and "Smoke build" in card.text
    assert f"hf-nda zoo build {name}" in card.text


def test_the_navigator_names_its_generator_by_repo_id(zoo_dir):
    from transformers import AutoConfig

    import hf_nda  # noqa: F401

    for folder in ("", "navigator"):
        config = AutoConfig.from_pretrained(zoo_dir / "copgen-nda-gan-fashion-mnist" / folder)
        assert config.generator["source"] == f"{ORG}/nda-gan-fashion-mnist" and config.generator["kind"] == "nda_gan"
    card = (zoo_dir / "copgen-nda-gan-fashion-mnist" / "README.md").read_text()
    assert f"| generator | `{ORG}/nda-gan-fashion-mnist` (frozen) |" in card  # the card says what the config loads


def test_a_finished_build_is_not_retrained_and_a_changed_org_is_refused_at_publish(zoo_dir):
    name = "amr-mixup-mnist"
    before = (zoo_dir / name / "model.safetensors").stat().st_mtime_ns
    flags, evaluation = TINY[name]
    info = build(name, zoo_dir, org=ORG, overrides={**STEPS, **flags}, evaluation=evaluation)
    assert (zoo_dir / name / "model.safetensors").stat().st_mtime_ns == before
    assert info["repo_id"] == f"{ORG}/{name}"
    with pytest.raises(ValueError, match=f"built for {ORG}/{name}.*--org other"):
        publish(name, zoo_dir, org="other", dry_run=True)


def test_a_killed_build_resumes_from_its_checkpoint_to_the_uninterrupted_weights(tmp_path):
    """SIGKILL the training of a build after step 2 (checkpointed); `build` then resumes it and ends with
    the weights of a build that was never interrupted."""
    from hf_nda.zoo.build import train_flags
    from tests.conftest import assert_same_weights, run_trainer_module

    name = "amr-mixup-mnist"
    flags, evaluation = TINY[name]
    overrides = {**STEPS, **flags, "max_steps": 4, "save_steps": 2}
    build(name, tmp_path / "straight", org=ORG, overrides=overrides, evaluation=evaluation)
    argv = recipe_argv(train_flags(get_entry(name), tmp_path / "killed", overrides))
    killed = run_trainer_module("amr", argv, kill_after_step=2, check=False)
    assert killed.returncode == -9 and not (tmp_path / "killed" / name / "zoo.json").exists()
    info = build(name, tmp_path / "killed", org=ORG, overrides=overrides, evaluation=evaluation)
    assert_same_weights(tmp_path / "straight" / name, tmp_path / "killed" / name, ["autoencoder", "discriminator"])
    assert info["metrics"] == json.loads((tmp_path / "straight" / name / "zoo.json").read_text())["metrics"]


def test_zoo_list_shows_each_model_and_its_metric_once_built(zoo_dir, capsys):
    from hf_nda.cli import main

    main(["zoo", "list", "--output_dir", str(zoo_dir)])
    rows = {line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == set(TINY)
    value = json.loads((zoo_dir / "amr-mixup-mnist" / "zoo.json").read_text())["metrics"][0]["value"]
    assert f"{value:.4f}" in rows["amr-mixup-mnist"] and "hf-nda/amr-mixup-mnist" in rows["amr-mixup-mnist"]
    main(["zoo", "list", "--output_dir", str(zoo_dir / "empty")])
    assert "not built" in capsys.readouterr().out


def test_publish_refuses_smoke_builds_and_dry_run_lists_exactly_the_hub_files(zoo_dir, tmp_path):
    import shutil

    name = "nda-gan-fashion-mnist"
    with pytest.raises(ValueError, match="smoke build"):
        publish(name, zoo_dir, org=ORG, dry_run=True)
    copy = tmp_path / name
    shutil.copytree(zoo_dir / name, copy)
    info = json.loads((copy / "zoo.json").read_text())
    (copy / "zoo.json").write_text(json.dumps({**info, "smoke_build": None}))
    repo_id, files = publish(name, tmp_path, org=ORG, dry_run=True)
    on_disk = sorted(str(p.relative_to(copy)) for p in copy.rglob("*")
                     if p.is_file() and p.relative_to(copy).parts[0] not in ("checkpoints", "logs"))
    assert repo_id == f"{ORG}/{name}" and files == on_disk
    assert {"README.md", "model.safetensors", "config.json", "zoo.json", "generator/model.safetensors"} <= set(files)


CLIENT = r"""
import json, sys, numpy as np, torch
import hf_nda
from transformers import AutoModel, pipeline

org, local = sys.argv[1], sys.argv[1].startswith("/")


def images(n, size, seed):
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)
    return [Image.fromarray(p, mode="L") for p in pixels]


def repo(name):
    return f"{org}/{name}"


out = {}
scores = pipeline("ood-scoring", model=repo("nda-gan-fashion-mnist"))(images(3, 32, 1))
out["nda-gan"] = [r["score"] for r in scores]
scores = pipeline("ood-scoring", model=repo("gan-fashion-mnist"))(images(3, 32, 1))
out["gan"] = [r["score"] for r in scores]
for name in ("nda-moco-resnet18-fashion-mnist", "moco-v2-resnet18-fashion-mnist"):
    with torch.no_grad():
        x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
        out[name] = AutoModel.from_pretrained(repo(name)).eval()(x).features.tolist()
classify = pipeline("image-classification", model=repo("nda-moco-resnet18-fashion-mnist") + ("/classifier" if local else ""),
                    **({} if local else {"model_kwargs": {"subfolder": "classifier"}}))
out["classifier"] = [r[0]["score"] for r in classify(images(2, 32, 3))]
mixes = pipeline("mixup-resynthesis", model=repo("amr-mixup-mnist"))(images(2, 32, 4), weights=[0.3, 0.7], seed=0)
out["amr"] = np.asarray(mixes["images"][0], dtype=float).tolist()
generator = {"image_generator": repo("nda-gan-fashion-mnist")} if local else {}  # a zoo navigator names a repo id
pairs = pipeline("positive-generation", model=repo("copgen-nda-gan-fashion-mnist"), **generator)(2, seed=0)
out["copgen"] = [np.asarray(p["positive"], dtype=float).tolist() for p in pairs]
features = pipeline("image-feature-extraction", model=repo("crl-tac-canvas-mnist"))(images(1, 84, 5))
out["crl-tac"] = np.asarray(features, dtype=float).ravel()[:32].tolist()
print(json.dumps(out))
"""


def _run_client(tmp_path, env_extra, org):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", CLIENT, org], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_entry_loads_by_repo_id_from_a_hub_server_with_the_local_outputs(zoo_dir, tmp_path):
    pytest.importorskip("olah", reason="olah is a dev dependency: pip install -e '.[dev]'")
    repos = {f"{ORG}/{name}": zoo_dir / name for name in TINY}
    with serve_repos(repos, tmp_path / "olah") as endpoint:
        served = _run_client(tmp_path, {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf_home")}, ORG)
    local = _run_client(tmp_path, {"HF_HUB_OFFLINE": "1"}, str(zoo_dir))
    assert served.keys() == local.keys()
    for key in served:
        torch.testing.assert_close(torch.tensor(served[key], dtype=torch.float64),
                                   torch.tensor(local[key], dtype=torch.float64), msg=lambda m: f"{key}: {m}")
