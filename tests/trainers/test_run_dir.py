"""Run directories across restarts: recipe check, damaged checkpoints, re-saves, divergence."""

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments
from hf_nda.trainers.run_dir import RecipeChangedError, TrainingDivergedError
from tests.conftest import run_trainer_module

TINY = dict(dataset="digits", image_size=28, batch_size=8, g_channels=8, d_channels=8, latent_dim=16, d_steps=1,
            report_to="none", sample_steps=0, logging_steps=1)


def gan(out, **kw):
    return NDAGANTrainer(NDAGANTrainingArguments(output_dir=str(out), **{**TINY, "max_steps": 4, "save_steps": 2, **kw}),
                         argv=[])


def snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_resume_with_another_recipe_is_refused_before_anything_is_written(tmp_path):
    gan(tmp_path).train()
    before = snapshot(tmp_path)
    for change in ({"nda": ["none"]}, {"batch_size": 16}, {"g_channels": 16}, {"loss": "js"}, {"dataset": "mnist"}):
        with pytest.raises(RecipeChangedError, match="--" + next(iter(change))) as error:
            gan(tmp_path, **change).train()
        assert "--overwrite_output_dir" in str(error.value) and "--output_dir" in str(error.value)
    assert snapshot(tmp_path) == before  # nothing rewritten: no card, no run_info claiming the new recipe


def test_harmless_changes_resume_and_are_recorded(tmp_path):
    gan(tmp_path).train()
    gan(tmp_path, max_steps=6, logging_steps=2).train()
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["args"]["max_steps"] == 6 and info["restarts"][-1]["changed"] == {"max_steps": 6, "logging_steps": 2}
    steps = [json.loads(line)["step"] for line in (tmp_path / "log_history.jsonl").open()]
    assert steps == [1, 2, 3, 4, 6]


def test_overwrite_output_dir_starts_over(tmp_path):
    gan(tmp_path).train()
    gan(tmp_path, nda=["none"], overwrite_output_dir=True, max_steps=2).train()
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["args"]["nda"] == ["none"] and info["restarts"] == []
    assert [json.loads(line)["step"] for line in (tmp_path / "log_history.jsonl").open()] == [1, 2]


@pytest.mark.parametrize("damage", ["truncate_weights", "delete_weights", "bad_state", "truncate_optimizer"])
def test_damaged_newest_checkpoint_falls_back_to_an_older_one(tmp_path, caplog, damage):
    straight = gan(tmp_path / "straight", max_steps=6, save_steps=2, save_total_limit=3)
    straight.train()
    run = tmp_path / "resumed"
    gan(run, max_steps=4, save_steps=2, save_total_limit=3).train()  # checkpoints 2 and 4
    newest = run / "checkpoints" / "step-0000004"
    target = {"truncate_weights": newest / "model.safetensors", "delete_weights": newest / "model_1.safetensors",
              "bad_state": newest / "trainer_state.json", "truncate_optimizer": newest / "optimizer.bin"}[damage]
    if damage.startswith("delete"):
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    with caplog.at_level(logging.WARNING):
        resumed = gan(run, max_steps=6, save_steps=2, save_total_limit=3)
        resumed.train()
    assert "step-0000004 is damaged" in caplog.text
    a = load_file(tmp_path / "straight" / "discriminator" / "model.safetensors")
    b = load_file(run / "discriminator" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)  # replayed from step 2: the uninterrupted run's weights


def test_finished_run_started_again_keeps_its_checkpoint(tmp_path):
    gan(tmp_path, save_total_limit=1).train()
    final = tmp_path / "checkpoints" / "step-0000004"
    stamp = final.stat().st_mtime_ns
    gan(tmp_path, save_total_limit=1).train()  # nothing to train: the final checkpoint is not re-saved
    assert final.stat().st_mtime_ns == stamp and (final / "model.safetensors").exists()


SAVE_FLAGS = ["--dataset", "digits", "--image_size", "28", "--batch_size", "8", "--g_channels", "8", "--d_channels",
              "8", "--latent_dim", "16", "--d_steps", "1", "--report_to", "none", "--max_steps", "6", "--save_steps",
              "2", "--save_total_limit", "1", "--sample_steps", "0", "--logging_steps", "1"]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("straight")
    run_trainer_module("gan", [*SAVE_FLAGS, "--output_dir", str(run)])
    return run


@pytest.mark.parametrize("phase", ["before_state", "after_state", "after_extra", "before_rename", "after_rename"])
@pytest.mark.parametrize("step", [4, 6])  # a save in the middle; the final save
def test_a_kill_at_any_phase_of_a_save_leaves_a_loadable_checkpoint(tmp_path, straight_run, phase, step):
    """SIGKILL at each phase of saving step 4 (while step 2 is the only kept checkpoint) or of the final
    step 6: the run always resumes from a loadable checkpoint and ends with the uninterrupted weights."""
    from tests.conftest import assert_same_weights

    killed = run_trainer_module("gan", [*SAVE_FLAGS, "--output_dir", str(tmp_path)], kill_during_save=(phase, step),
                                check=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    complete = [p for p in (tmp_path / "checkpoints").glob("step-*") if (p / "trainer_state.json").exists()]
    assert complete, "a kill left no checkpoint"
    run_trainer_module("gan", [*SAVE_FLAGS, "--output_dir", str(tmp_path)])
    assert_same_weights(straight_run, tmp_path, ["generator", "discriminator"])
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-0000006"]


def test_nan_weights_stop_the_run_without_export(tmp_path):
    flags = ["--dataset", "digits", "--image_size", "28", "--batch_size", "8", "--g_channels", "8", "--d_channels", "8",
             "--latent_dim", "16", "--d_steps", "1", "--report_to", "none", "--max_steps", "6", "--save_steps", "2",
             "--sample_steps", "0", "--logging_steps", "1", "--output_dir", str(tmp_path)]
    proc = run_trainer_module("gan", flags, nan_after_step=3, check=False)
    assert proc.returncode != 0 and "TrainingDivergedError" in proc.stderr
    assert "step 4" in proc.stderr and "step-0000002" in proc.stderr  # names the step and the last good checkpoint
    assert not (tmp_path / "generator").exists() and not (tmp_path / "discriminator").exists()
    rows = [json.loads(line) for line in (tmp_path / "log_history.jsonl").open()]  # strict JSON (json.loads would
    assert [r["step"] for r in rows] == [1, 2, 3]  # accept NaN, so check that no diverged row was written)


@pytest.mark.parametrize("family", ["moco", "amr", "copgen"])
def test_every_trainer_stops_on_a_non_finite_loss(tmp_path, family, tiny_gan_run):
    from hf_nda.trainers import trainer_class

    args = {"moco": dict(dataset="digits", batch_size=16, backbone="hf_nda_cnn3", queue_size=64, bn_groups=2),
            "amr": dict(dataset="digits", image_size=16, batch_size=8, base_channels=4, d_channels=4),
            "copgen": dict(generator=str(tiny_gan_run), dataset="digits", batch_size=8, eval_steps=0)}[family]
    cls = trainer_class(family)
    trainer = cls(cls.arguments_class(output_dir=str(tmp_path), max_steps=3, report_to="none", sample_steps=0,
                                      save_steps=0, logging_steps=1, **args), argv=[])
    with torch.no_grad():
        for model in trainer.models.values():
            next(model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="at step 1"):
        trainer.train()
    assert not any((tmp_path / part).exists() for part in cls.parts)


def test_bad_run_flags_get_clear_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [({"logging_steps": 0}, "--logging_steps"), ({"save_steps": -1}, "--save_steps"),
             ({"output_dir": str(tmp_path / "file")}, "is a file"), ({"max_train_samples": 4}, "--max_train_samples"),
             ({"lr_scheduler_type": "sometimes"}, "--lr_scheduler_type"), ({"log_level": "loud"}, "--log_level")]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            NDAGANTrainingArguments(**{**TINY, "output_dir": str(tmp_path / "run"), **change}).validate()


def test_resume_false_on_an_existing_run_is_refused(tmp_path):
    gan(tmp_path).train()
    with pytest.raises(RecipeChangedError, match="--resume is false"):
        gan(tmp_path, resume=False)


def test_max_steps_may_change_only_under_a_constant_schedule(tmp_path):
    gan(tmp_path, lr_scheduler_type="linear").train()
    with pytest.raises(RecipeChangedError, match="--max_steps"):
        gan(tmp_path, lr_scheduler_type="linear", max_steps=8)


def test_no_loadable_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    gan(tmp_path).train()
    for checkpoint in (tmp_path / "checkpoints").iterdir():
        (checkpoint / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="none of the checkpoints"):
        gan(tmp_path, max_steps=6).train()
