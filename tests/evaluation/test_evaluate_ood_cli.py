import json

import pytest

from hf_nda.cli import main


def test_evaluate_ood_writes_table_plots_and_card(tiny_gan_run, capsys):
    assert main(["evaluate-ood", "--model", str(tiny_gan_run), "--dataset", "digits", "--num_images", "64",
                 "--other_datasets", "mnist", "--fid_samples", "16"]) == 0
    printed = capsys.readouterr().out
    assert "| mnist |" in printed and "| nda/jigsaw |" in printed and "FID-style" in printed
    results = json.loads((tiny_gan_run / "ood_results.json").read_text())
    assert results["num_in_distribution"] == 64 and "corruption/contrast" in results["metrics"]
    for row in results["metrics"].values():
        assert 0 <= row["AUROC"] <= 1 and 0 <= row["FPR95TPR"] <= 1
    assert results["fid_style"]["value"] > 0 and results["fid_style"]["num_samples"] == 16
    for name in ("ood_results.md", "roc_curves.png", "score_differences.png"):
        assert (tiny_gan_run / name).stat().st_size > 0
    card = (tiny_gan_run / "README.md").read_text()
    auroc = results["metrics"]["mnist"]["AUROC"]
    assert f"| mnist | {auroc:.4f} |" in card and "hf-nda evaluate-ood" in card
    assert "value: " in card and "library_name: hf_nda" in card  # model-index metadata with values


def test_push_dry_run_lists_the_hub_files_only(tiny_gan_run, capsys):
    assert main(["push", str(tiny_gan_run), "me/tiny", "--dry_run"]) == 0
    files = capsys.readouterr().out.splitlines()[1:]
    assert {"README.md", "config.json", "model.safetensors", "generator/model.safetensors",
            "discriminator/model.safetensors", "generator/config.json"} <= set(files)
    assert not any(f.startswith(("checkpoints/", "logs/")) for f in files)


def test_evaluate_ood_on_a_folder_without_a_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate-ood", "--model", str(tmp_path), "--dataset", "digits"])
    assert exit_info.value.code == 2 and "holds no model" in capsys.readouterr().err
