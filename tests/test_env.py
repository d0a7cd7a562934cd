"""helpers.env: TRL API families, stack checks, and model ids that cannot be loaded."""

import time

import pytest

from helpers import env


@pytest.mark.parametrize(
    ("version", "ppo", "grpo"),
    [
        ("0.7.11", "classic", False),
        ("0.11.4", "classic", False),
        ("0.12.0", "rewritten", False),
        ("0.14.0", "rewritten", True),
        ("0.25.1", "rewritten", True),
        ("0.26.0", "experimental", True),
        ("1.12.3", "experimental", True),
        ("1.13.0", None, True),
        ("1.16.0", None, True),
        ("1.17.0.dev0", None, True),
    ],
)
def test_trl_api_family_follows_the_version_story(version, ppo, grpo):
    family = env.trl_api_family(version)
    assert (family["ppo"], family["grpo"]) == (ppo, grpo)


@pytest.mark.parametrize(
    ("version", "stack"),
    [("0.11.4", "legacy"), ("0.11.0", "legacy"), ("0.12.0", None), ("0.20.0", None), ("1.13.0", "modern"), ("1.16.0", "modern")],
)
def test_detect_stack(version, stack):
    assert env.detect_stack(version) == stack


def test_this_environment_is_the_modern_stack():
    assert env.detect_stack() == "modern"
    assert env.require_stack("modern") == env.installed_version("trl")


def test_wrong_stack_names_the_exact_install_command():
    with pytest.raises(env.WrongStackError) as caught:
        env.require_stack("legacy")
    message = str(caught.value)
    assert "pip install torch==2.13.0 && pip install -r requirements-legacy-trl.txt -c constraints-torch.txt" in message
    assert "rlhf-legacy" in message
    assert "trl 1.16.0" in message


def test_missing_trl_is_a_wrong_stack(monkeypatch):
    monkeypatch.setattr(env, "installed_version", lambda package: None)
    with pytest.raises(env.WrongStackError, match="no TRL at all"):
        env.require_stack("modern")


def test_unknown_stack_lists_the_stacks():
    with pytest.raises(ValueError, match=r"\['legacy', 'modern'\]"):
        env.require_stack("bleeding-edge")


def test_resolve_model_builds_tiny_models_into_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_TINY_CACHE", str(tmp_path))
    folder = env.resolve_model("tiny-gpt2")
    assert folder.startswith(str(tmp_path))
    assert (tmp_path / folder.split("/")[-1] / "config.json").exists()


def test_resolve_model_passes_local_folders_through(tmp_path):
    assert env.resolve_model(str(tmp_path)) == str(tmp_path)


def test_unreachable_hub_model_fails_fast_and_points_to_tiny(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(env.ModelUnavailableError) as caught:
        env.resolve_model("some-org/model-that-is-not-cached")
    assert time.time() - start < 5
    assert "profile='tiny'" in str(caught.value)
    assert "some-org/model-that-is-not-cached" in str(caught.value)


def test_device_report_on_this_machine():
    report = env.device_report()
    assert report["device"] in ("cpu", "cuda", "mps")
    assert report["trl"] == "1.16.0"
    assert report["stack"] == "modern"


def test_precision_falls_back_to_fp32_on_cpu(capsys):
    assert env.trainer_precision("fp16", "cpu") == {"fp16": False, "bf16": False, "use_cpu": True}
    assert "fp32 instead of fp16" in capsys.readouterr().out
    with pytest.raises(ValueError, match="fp8"):
        env.trainer_precision("fp8", "cuda")


def test_four_bit_without_a_gpu_says_so_and_loads_normal_weights(capsys):
    assert env.four_bit_config(False) is None
    assert env.four_bit_config(True) is None  # no CUDA GPU here
    assert "no CUDA GPU" in capsys.readouterr().out
