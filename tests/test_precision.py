"""helpers.precision: the dtype plan of each profile and the contracts checked before the first
step."""

import pytest
import torch

from helpers import precision, tiny
from helpers.precision import PrecisionError, check_precision, precision_plan, trainables_to_fp32


@pytest.fixture
def turing_gpu(monkeypatch):
    """A T4 / RTX 2080 Ti as torch sees it: CUDA, compute capability 7.5, bf16 only by emulation."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation
    )


@pytest.fixture
def rehearsal(monkeypatch):
    monkeypatch.setenv("RLHF_REHEARSAL", "1")


def test_a_t4_plans_fp16_everywhere_even_when_a_profile_asks_for_bf16(turing_gpu):
    plan = precision_plan("bf16", "cuda")
    assert (plan.amp, plan.frozen, plan.runs) == ("fp16", "float16", "fp16")
    assert plan.trainer_flags == {"fp16": True, "bf16": False, "use_cpu": False}


def test_ppo_trains_in_fp32_with_16_bit_frozen_weights(turing_gpu):
    plan = precision_plan("fp16", "cuda", mixed=False)
    assert (plan.amp, plan.frozen) == ("fp32", "float16")
    assert plan.trainer_flags["fp16"] is False


def test_scorers_follow_the_frozen_dtype_except_on_a_cpu_with_bf16_instructions(
    monkeypatch, turing_gpu
):
    assert (
        precision_plan("fp16", "cuda", mixed=False).scorer == "float16"
    )  # the card's, like every frozen model
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for native, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(precision, "cpu_native_bf16", lambda native=native: native)
        plan = precision_plan("fp32", "cpu", mixed=False)
        assert (plan.frozen, plan.scorer, plan.scorer_dtype) == (
            "float32",
            expected,
            getattr(torch, expected),
        )
    monkeypatch.setenv("RLHF_REHEARSAL", "1")
    assert (
        precision_plan("fp16", "cuda", mixed=False).scorer == "float16"
    )  # a rehearsal keeps the card's


def test_a_rehearsal_keeps_the_planned_cards_dtypes_and_runs_fp32(rehearsal):
    t4, a100 = precision_plan("fp16", "cuda"), precision_plan("bf16", "cuda")
    assert (t4.amp, t4.frozen, t4.runs) == ("fp16", "float16", "fp32")
    assert (a100.amp, a100.frozen) == ("bf16", "bfloat16")
    assert t4.trainer_flags["use_cpu"] is True
    assert precision_plan("fp32", "cpu").frozen == "float32"


def test_four_bit_without_a_gpu_says_so_and_loads_normal_weights(capsys):
    plan = precision_plan("fp16", "cpu")
    assert precision.four_bit_config(False, plan) is None
    assert precision.four_bit_config(True, plan) is None
    assert "no CUDA GPU" in capsys.readouterr().out


def test_a_rehearsal_loads_4_bit_weights_computing_in_the_planned_dtype(rehearsal):
    config = precision.four_bit_config(True, precision_plan("fp16", "cuda"))
    assert config.load_in_4bit and config.bnb_4bit_compute_dtype == torch.float16


def _tiny_qwen(dtype=torch.float32, **kwargs):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        tiny.build("Qwen/Qwen2.5-0.5B-Instruct"), dtype=dtype, **kwargs
    )


def test_qlora_on_an_fp16_card_is_caught_before_the_first_step_and_fixed(rehearsal, tmp_path):
    """Defect: TRL 1.16 casts a 4-bit model's adapters to bf16, which the fp16 GradScaler cannot
    unscale."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    plan = precision_plan("fp16", "cuda")
    model = _tiny_qwen(plan.frozen_dtype, quantization_config=precision.four_bit_config(True, plan))
    folder = tiny.build("Qwen/Qwen2.5-0.5B-Instruct")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[lambda completions, **kwargs: [1.0] * len(completions)],
        args=GRPOConfig(
            output_dir=str(tmp_path),
            max_steps=1,
            per_device_train_batch_size=2,
            num_generations=2,
            max_completion_length=4,
            report_to="none",
            **plan.trainer_flags,
        ),
        train_dataset=Dataset.from_list([{"prompt": [{"role": "user", "content": "2+2?"}]}] * 2),
        processing_class=AutoTokenizer.from_pretrained(folder),
        peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    with pytest.raises(
        PrecisionError, match="bfloat16 under fp16 mixed precision.*trainables_to_fp32"
    ):
        check_precision(trainer.model, plan)
    moved = trainables_to_fp32(trainer.model, plan)
    block = check_precision(trainer.model, plan, moved_to_fp32=moved)
    assert moved > 0 and block["trainable"] == {"float32": moved}
    assert set(block["frozen"]) == {"float16", "uint8"}  # NF4 weights are stored as bytes


def test_bf16_mixed_precision_keeps_trls_bf16_adapters(rehearsal):
    model = _tiny_qwen()
    model.lm_head.weight.data = model.lm_head.weight.data.bfloat16()
    assert trainables_to_fp32(model, precision_plan("bf16", "cuda")) == 0


def test_a_frozen_model_in_the_wrong_dtype_is_named():
    plan = precision_plan("fp32", "cpu")
    reference = _tiny_qwen(torch.float16)
    with pytest.raises(
        PrecisionError, match="of the reference is float16.*dtype=plan.frozen_dtype"
    ):
        check_precision(
            _tiny_qwen(), plan, frozen={"reference": (reference.requires_grad_(False), plan.frozen)}
        )


def test_the_preflight_stops_on_an_overflow_with_the_setting_to_change():
    plan, model = precision_plan("fp32", "cpu"), _tiny_qwen()
    ids = torch.arange(10)
    assert check_precision(model, plan, preflight_ids=ids)["preflight"]["finite"] is True
    model.model.norm.weight.data[0] = float("inf")  # an overflow in the last layer
    with pytest.raises(PrecisionError, match="not finite.*precision='fp32'"):
        check_precision(model, plan, preflight_ids=ids)


def test_the_preflight_input_is_the_prompt_plus_a_full_completion():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny.build("Qwen/Qwen2.5-0.5B-Instruct"))
    prompt_len = len(tokenizer("How many apples?").input_ids)
    assert len(precision.preflight_input(tokenizer, "How many apples?", 37)) == prompt_len + 37


def test_notebook_03_says_which_trl_trainers_switch_dropout_off():
    """Defect: 03 said "newer TRL trainers switch it off for you"; in TRL 1.16 only DPO and
    RewardConfig do."""
    import json
    from pathlib import Path

    from trl import DPOConfig, GRPOConfig, RewardConfig, RLOOConfig

    defaults = {
        c.__name__: c.__dataclass_fields__["disable_dropout"].default
        for c in (GRPOConfig, RLOOConfig, DPOConfig, RewardConfig)
    }
    assert defaults == {
        "GRPOConfig": False,
        "RLOOConfig": False,
        "DPOConfig": True,
        "RewardConfig": True,
    }
    notebook = json.loads(
        (Path(__file__).parent.parent / "notebooks" / "03_ppo_on_sft_model.ipynb").read_text()
    )
    text = " ".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert "switch it off for you" not in text and "GRPOConfig and RLOOConfig leave it on" in text
