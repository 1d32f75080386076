"""Shared fixtures. The suite runs offline: the Hub is never contacted (HF_HUB_OFFLINE=1) and the
datasets come from their local sources, cached once per session in a temporary HF_NDA_CACHE."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _dataset_cache(tmp_path_factory):
    if "HF_NDA_CACHE" not in os.environ:
        os.environ["HF_NDA_CACHE"] = str(tmp_path_factory.mktemp("hf_nda_cache"))
    yield


@pytest.fixture
def batch():
    """A seeded batch of distinct images, 8×3×32×32 in [-1, 1]."""
    return torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(123)) * 2 - 1


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def tiny_gan_run(tmp_path_factory):
    """A finished 3-step NDA-GAN run on sklearn digits at 28 px (tiny widths): a real run directory."""
    from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments

    out = tmp_path_factory.mktemp("tiny_gan") / "run"
    args = NDAGANTrainingArguments(output_dir=str(out), dataset="digits", image_size=28, batch_size=8, g_channels=8,
                                   d_channels=8, latent_dim=16, d_steps=1, max_steps=3, report_to="none",
                                   save_steps=0, sample_steps=0)
    NDAGANTrainer(args, argv=["--dataset", "digits", "--max_steps", "3"]).train()
    return out


def run_trainer_module(family: str, argv, env_extra=None, check=True, processes: int = 1, port: int = 29533,
                       kill_after_step: int | None = None, nan_after_step: int | None = None,
                       kill_during_save: tuple[str, int] | None = None):
    """``python -m hf_nda.trainers.<module of family> ARGV`` in a subprocess (``processes`` > 1: under
    ``torch.distributed.run``, real gloo DDP on the CPU); raises with its stderr when it fails.
    ``kill_after_step``: SIGKILL the run once that step is done; ``nan_after_step``: poison its weights
    with NaN then; ``kill_during_save=(phase, step)``: SIGKILL it at that phase of that step's checkpoint
    save (``tests/crash_drill.py``)."""
    import subprocess
    import sys
    from pathlib import Path

    launcher = [] if processes == 1 else ["-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                                          "--master_addr", "127.0.0.1", "--master_port", str(port)]
    env = {**os.environ, **({"OMP_NUM_THREADS": "1"} if processes > 1 else {}), **(env_extra or {})}
    drill = ("kill", kill_after_step) if kill_after_step is not None else ("nan", nan_after_step)
    if kill_during_save is not None:
        drill = (f"kill-save:{kill_during_save[0]}", kill_during_save[1])
    from hf_nda.trainers import TRAINER_MODULES

    target = (["-m", TRAINER_MODULES[family]] if drill[1] is None
              else [str(Path(__file__).with_name("crash_drill.py")), drill[0], str(drill[1]), family])
    proc = subprocess.run([sys.executable, *launcher, *target, *argv], env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-3000:])
    return proc


def kill_and_resume(family: str, flags, tmp_path, kill_after_step: int):
    """Train ``flags`` straight through into ``tmp_path/straight``; into ``tmp_path/resumed`` SIGKILL
    it after ``kill_after_step`` and run the same command again. Returns both run directories."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_trainer_module(family, [*flags, "--output_dir", str(straight)])
    killed = run_trainer_module(family, [*flags, "--output_dir", str(resumed)], kill_after_step=kill_after_step,
                                check=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    run_trainer_module(family, [*flags, "--output_dir", str(resumed)])
    return straight, resumed


def assert_same_weights(run_a, run_b, parts) -> None:
    """Every tensor of every part's ``model.safetensors`` is bitwise equal in the two runs."""
    from safetensors.torch import load_file

    for part in parts:
        a, b = load_file(run_a / part / "model.safetensors"), load_file(run_b / part / "model.safetensors")
        assert a.keys() == b.keys(), part
        for key in a:
            assert torch.equal(a[key], b[key]), f"{part}/{key}"
