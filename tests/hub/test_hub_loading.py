"""Loading by repo id for real, without internet: over HTTP from an ``olah`` Hub-API server on a
loopback port serving a git repo made from a run directory, then from the HF cache that download
populated, with ``HF_HUB_OFFLINE=1``."""

import json
import os
import subprocess
import sys

import pytest
import torch

from .olah_server import serve_repos

REPO_ID = "hf-nda-test/tiny-nda-gan"

CLIENT = r"""
import json, sys, torch
import hf_nda
from transformers import AutoModel, pipeline
repo = sys.argv[1]
x = torch.load(sys.argv[2], weights_only=True)
d = AutoModel.from_pretrained(repo).eval()
g = AutoModel.from_pretrained(repo, subfolder="generator").eval()
scorer = pipeline("ood-scoring", model=repo)
z = torch.randn(3, g.config.latent_dim, generator=torch.Generator().manual_seed(0))
print(json.dumps({"classes": [type(d).__name__, type(g).__name__],
                  "logits": d(x).logits.tolist(), "scores": [r["score"] for r in scorer(x)],
                  "images": g(z).images.flatten().tolist()[:50]}))
"""


@pytest.fixture(scope="module")
def run_dir(tiny_gan_run):
    return tiny_gan_run


@pytest.fixture(scope="module")
def olah_server(run_dir, tmp_path_factory):
    pytest.importorskip("olah", reason="olah is a dev dependency: pip install -e '.[dev]'")
    with serve_repos({REPO_ID: run_dir}, tmp_path_factory.mktemp("olah")) as endpoint:
        yield endpoint


def _client(tmp_path, env_extra, repo=REPO_ID):
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    torch.save(x, tmp_path / "x.pt")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", CLIENT, repo, str(tmp_path / "x.pt")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), x


def _local_expectation(run_dir, x):
    import hf_nda  # noqa: F401
    from transformers import AutoModel

    d = AutoModel.from_pretrained(run_dir).eval()
    g = AutoModel.from_pretrained(run_dir / "generator").eval()
    z = torch.randn(3, g.config.latent_dim, generator=torch.Generator().manual_seed(0))
    return d(x).logits, g(z).images.flatten()[:50]


def test_load_by_repo_id_over_http_then_offline_from_the_cache(run_dir, olah_server, tmp_path):
    hf_home = tmp_path / "hf_home"
    online, x = _client(tmp_path, {"HF_ENDPOINT": olah_server, "HF_HOME": str(hf_home)})
    logits, images = _local_expectation(run_dir, x)
    assert online["classes"] == ["NDADiscriminator", "NDAGenerator"]
    torch.testing.assert_close(torch.tensor(online["logits"]), logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.tensor(online["scores"]), -logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.tensor(online["images"]), images, rtol=1e-5, atol=1e-5)
    cached = list((hf_home / "hub").glob(f"models--{REPO_ID.replace('/', '--')}/snapshots/*/generator/model.safetensors"))
    assert cached, "the download did not populate the HF cache"

    offline, _ = _client(tmp_path, {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    assert offline == online
