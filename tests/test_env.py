"""helpers.env: TRL API families, stack checks, devices and precision, where outputs go."""

from pathlib import Path

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
    [
        ("0.11.4", "legacy"),
        ("0.11.0", "legacy"),
        ("0.12.0", None),
        ("0.20.0", None),
        ("1.13.0", "modern"),
        ("1.16.0", "modern"),
    ],
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
    assert (
        "pip install torch==2.13.0 && pip install -r requirements-legacy-trl.txt -c "
        "constraints-torch.txt" in message
    )
    assert "rlhf-legacy" in message
    assert "trl 1.16.0" in message


def test_on_colab_the_wrong_stack_error_gives_only_the_colab_fix(monkeypatch):
    """Defect: the pip command replaced Colab's CUDA torch with gigabytes of wheels."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(env.WrongStackError) as caught:
        env.require_stack("legacy")
    message = str(caught.value)
    assert "pip install" not in message and "Disconnect and delete runtime" in message


def test_missing_trl_is_a_wrong_stack(monkeypatch):
    monkeypatch.setattr(env, "installed_version", lambda package: None)
    with pytest.raises(env.WrongStackError, match="no TRL at all"):
        env.require_stack("modern")


def test_unknown_stack_lists_the_stacks():
    with pytest.raises(ValueError, match=r"\['legacy', 'modern'\]"):
        env.require_stack("bleeding-edge")


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


@pytest.fixture
def turing_gpu(monkeypatch):
    """A T4 / RTX 2080 Ti as torch sees it: CUDA, compute capability 7.5, bf16 only by emulation."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation
    )


def test_a_t4_has_no_native_bf16_so_training_and_frozen_weights_use_fp16(turing_gpu, capsys):
    import torch

    assert env.native_bf16() is False
    assert env.trainer_precision("bf16", "cuda") == {"fp16": True, "bf16": False, "use_cpu": False}
    assert "no native bf16" in capsys.readouterr().out
    assert env.half_dtype("bf16") == torch.float16


def test_an_ampere_gpu_keeps_bf16(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert env.native_bf16() is True
    assert env.trainer_precision("bf16", "cuda")["bf16"] is True
    assert env.half_dtype("bf16") == torch.bfloat16


def test_a_24_gb_ampere_card_given_the_t4_profile_trains_in_bf16(monkeypatch, capsys):
    """Defect: 'auto' maps an L4 or an A10G (24 GB) to t4-16gb, whose fp16 forced fp16 where bf16 is
    native."""
    import torch

    from helpers.profiles import PROFILES, pick_profile_for_gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert (
        pick_profile_for_gpu(22.5) == "t4-16gb"
        and PROFILES["t4-16gb"].notebook("sft").precision == "fp16"
    )
    assert env.trainer_precision("fp16", "cuda") == {"fp16": False, "bf16": True, "use_cpu": False}
    assert "bf16 natively" in capsys.readouterr().out
    assert env.half_dtype("fp16") == torch.bfloat16


def test_course_paths_live_under_the_storage_root(tmp_path, monkeypatch):
    monkeypatch.delenv("RLHF_STORAGE", raising=False)
    assert env.course_path("sft_gpt2") == env.Path("sft_gpt2")
    monkeypatch.setenv("RLHF_STORAGE", str(tmp_path / "drive"))  # what the setup cell sets on Colab
    assert env.course_path("sft_gpt2") == tmp_path / "drive" / "sft_gpt2"
    assert env.course_path(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"


def test_one_checkpoint_just_past_half_way_and_none_at_the_end(tmp_path):
    """Defect: 04 wrote four full checkpoints (~6 GB each on the A100 profile) and 02 one per epoch,
    each deleted one sitting in Drive's Trash against the 15 GB quota. transformers also saves at
    the last step."""
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from helpers.tiny import build

    model = AutoModelForCausalLM.from_pretrained(build("tiny-gpt2"))
    ids = torch.randint(0, model.config.vocab_size, (8, 6))
    data = [{"input_ids": row, "labels": row} for row in ids]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=5,
        per_device_train_batch_size=2,
        save_strategy="steps",
        save_steps=env.halfway_save_steps(5),
        report_to="none",
        use_cpu=True,
    )
    Trainer(
        model=model, args=args, train_dataset=data, callbacks=[env.skip_final_checkpoint()]
    ).train()
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-3"]
    assert env.folder_gb(tmp_path) > 0 and env.folder_gb(tmp_path / "none") == 0.0


def test_start_notebook_checks_the_stack_and_only_on_colab_mounts_drive(monkeypatch):
    import sys
    import time
    import types

    mounted = []
    before = time.time()
    assert before <= env.start_notebook("modern") <= time.time()
    assert env.start_notebook() > 0  # 00 runs on either stack: nothing to check
    with pytest.raises(env.WrongStackError):
        env.start_notebook("legacy")
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setenv("RLHF_STORAGE", "set, so that monkeypatch restores it")
    monkeypatch.delenv("RLHF_STORAGE")
    env.start_notebook("modern")
    assert mounted == ["/content/drive"] and env.storage_root() == Path(env.COLAB_STORAGE)
