"""The hf-nda command line: every bad argument ends with a message naming it and exit code 2, not a
traceback."""

import pytest

from hf_nda.cli import main

CASES = [
    (["train", "nosuchfamily"], "invalid choice"),
    (["probe", "--model", "no/such/run_dir_here", "--dataset", "digits"], "no/such/run_dir_here"),
    (["evaluate-ood", "--model", "no/such/run_dir_here"], "no/such/run_dir_here"),
    (["generate-pairs", "--navigator", "no/such/navigator", "--num_pairs", "4", "--output_dir", "x"], "no/such/navigator"),
    (["push", "no/such/run_dir_here", "me/repo", "--dry_run"], "no/such/run_dir_here"),
    (["show-negatives", "--dataset", "cifar"], "invalid choice"),
    (["evaluate-ood", "--model", "x", "--severity", "9"], "severity"),
    (["probe", "--model"], "expected one argument"),
    (["zoo", "build", "no-such-model"], "no reference model 'no-such-model'"),
    (["zoo", "build"], "--all"),
    (["zoo", "publish", "nda-gan-fashion-mnist", "--output_dir", "no/such/zoo", "--dry_run"], "zoo build"),
    (["zoo", "frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize("argv, message", CASES)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [(["--logging_steps", "0"], "--logging_steps"),
                                            (["--save_steps", "-1"], "--save_steps"),
                                            (["--max_train_samples", "4", "--batch_size", "8"], "--max_train_samples"),
                                            (["--nda", "jigsaw-inf"], "jigsaw")])
def test_bad_training_flags_fail_before_any_work(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "gan", "--dataset", "digits", "--output_dir", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written
