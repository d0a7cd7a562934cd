"""Precision: which dtype each model is loaded in, which mixed precision trains it, checked before
step one.

    plan = precision_plan(settings.precision, settings.device)  # one plan per profile and card
    base = AutoModelForCausalLM.from_pretrained(path, dtype=plan.frozen_dtype)  # frozen weights
    args = GRPOConfig(..., **plan.trainer_flags)
    trainer = GRPOTrainer(...)
    trainables_to_fp32(trainer.model, plan)  # undo TRL's QLoRA cast under fp16 (see below)
    precision = check_precision(trainer.model, plan, preflight_ids=ids)  # stops if one is broken

The contracts, each a crash, an overflow or a silent error on a T4 or an RTX 2080 Ti if broken:

- under fp16 mixed precision every trainable parameter is fp32: torch's GradScaler unscales fp32
  gradients only (fp16 ones: "Attempting to unscale FP16 gradients"; bf16 ones: "not implemented for
  'BFloat16'", pytorch issue 127176). TRL 1.16 casts the LoRA adapters of a 4-bit model to bf16 when
  it builds the trainer, so QLoRA on an fp16 card needs ``trainables_to_fp32`` before its first
  step;
- frozen weights (a LoRA base, a reward encoder) have the dtype the plan states;
- the policy's logits are finite on the longest prompt plus the full completion, computed in the
  trainer's precision (fp16 tops out at 65,504; the Qwen2 family is reported to overflow in fp16:
  QwenLM/Qwen3 issue 826, transformers issue 33294).

In a rehearsal of a GPU profile on a CPU the plan is the GPU's (fp16 for the T4 and 11 GB profiles,
bf16 for the A100 one): frozen weights load in that 16-bit dtype on the CPU and the contracts assert
on dtypes. The trainer itself runs in fp32 there (a CPU has no mixed precision), which the plan
records as ``runs``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from helpers.env import cpu_native_bf16, installed_version, native_bf16, trainer_precision
from helpers.profiles import rehearsing

DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
FP16_MAX = 65504.0


class PrecisionError(RuntimeError):
    """A precision contract broken before training: which parameter, its dtype, and the fix."""


@dataclass(frozen=True)
class PrecisionPlan:
    precision: str  # what the profile asks for: "fp32", "fp16" or "bf16"
    amp: str  # the mixed precision of the planned GPU run: "fp16", "bf16" or "fp32" (none)
    frozen: str  # the dtype of weights that do not train: "float16", "bfloat16" or "float32"
    runs: str  # what runs here: the same as amp on a GPU, "fp32" on a CPU
    trainer_flags: dict  # fp16 / bf16 / use_cpu for a transformers or TRL config
    # frozen models that only score texts (03's sentence encoder): the frozen dtype, except on a CPU
    # that computes bf16 natively, where bf16 halves their time (MiniLM on 64 texts: 0.48 s -> 0.25
    # s, AVX512-BF16)
    scorer: str = "float32"

    @property
    def frozen_dtype(self):
        import torch

        return getattr(torch, self.frozen)

    @property
    def scorer_dtype(self):
        import torch

        return getattr(torch, self.scorer)

    def as_dict(self) -> dict:
        return {
            "precision": self.precision,
            "amp": self.amp,
            "frozen_dtype": self.frozen,
            "runs": self.runs,
            "scorer_dtype": self.scorer,
        }


def precision_plan(precision: str, device: str, mixed: bool = True) -> PrecisionPlan:
    """The plan for a profile's `precision` on `device` ("cuda" or "cpu"), here or in a rehearsal.
    ``mixed=False``: the trainer uses no mixed precision (TRL 0.11's PPO), only frozen weights are
    16-bit.

    >>> precision_plan("fp32", "cpu").frozen
    'float32'
    """
    import torch

    on_gpu = device == "cuda" and torch.cuda.is_available()
    if on_gpu:
        half = (
            "fp32" if precision == "fp32" else "bf16" if native_bf16() else "fp16"
        )  # as trainer_precision
    elif device == "cuda" and rehearsing():
        half = precision  # the planned card's: a CPU loads 16-bit weights too, and computes in them
    else:
        half = "fp32"
    amp = half if mixed else "fp32"
    flags = trainer_precision(precision if mixed else "fp32", device)
    scorer = "bf16" if half == "fp32" and not on_gpu and cpu_native_bf16() else half
    return PrecisionPlan(
        precision, amp, DTYPE_NAMES[half], amp if on_gpu else "fp32", flags, DTYPE_NAMES[scorer]
    )


def _dtypes(parameters) -> dict:
    return dict(Counter(str(p.dtype).replace("torch.", "") for p in parameters))


def trainables_to_fp32(model, plan: PrecisionPlan) -> int:
    """Under fp16 mixed precision, put every 16-bit trainable parameter back in fp32, before the
    optimizer exists (its states would otherwise be created in 16 bits). Returns how many it
    moved."""
    import torch

    if plan.amp != "fp16":
        return 0
    moved = 0
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype in (torch.float16, torch.bfloat16):
            parameter.data = parameter.data.float()
            moved += 1
    return moved


def _check_trainable(model, plan: PrecisionPlan) -> None:
    import torch

    bad = torch.float32 if plan.amp == "fp16" else None
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        wrong = (
            (parameter.dtype != torch.float32)
            if bad is not None
            else parameter.dtype == torch.float16
        )
        if wrong:
            raise PrecisionError(
                f"Trainable parameter {name} is {parameter.dtype} under {plan.amp} mixed "
                "precision: the fp16 GradScaler would fail at the first optimizer step. "
                "Fix: trainables_to_fp32(trainer.model, plan) after building the "
                "trainer, or load the weights that train in fp32."
            )


def _check_frozen(name: str, model, expected: str, skip_trainable: bool = False) -> None:
    for parameter_name, parameter in model.named_parameters():
        if (skip_trainable and parameter.requires_grad) or not parameter.is_floating_point():
            continue  # 4-bit weights are stored as uint8
        found = str(parameter.dtype).replace("torch.", "")
        if found != expected:
            raise PrecisionError(
                f"Frozen weight {parameter_name} of the {name} is {found}; the precision "
                f"plan loads frozen weights in {expected}. Fix: load it with "
                "from_pretrained(..., dtype=plan.frozen_dtype)."
            )


def preflight(model, plan: PrecisionPlan, input_ids) -> dict:
    """One forward pass on `input_ids` (the longest prompt plus a full-length completion) in the
    planned precision: are the logits finite, and how close to fp16's limit do they come?"""
    import torch

    device = next(model.parameters()).device
    ids = input_ids.reshape(1, -1).to(device)
    autocast = (
        torch.autocast("cuda", dtype=getattr(torch, plan.frozen))
        if device.type == "cuda" and plan.amp != "fp32"
        else torch.autocast(device.type, enabled=False)
    )
    with torch.no_grad(), autocast:
        output = model(input_ids=ids)
    logits = (
        output.logits if hasattr(output, "logits") else output[0]
    )  # TRL 0.11's value-head models: a tuple
    finite = bool(torch.isfinite(logits).all())
    result = {
        "tokens": int(ids.shape[1]),
        "finite": finite,
        "max_abs_logit": float(logits.float().nan_to_num(posinf=FP16_MAX).abs().max()),
    }
    if not finite:
        raise PrecisionError(
            f"The policy's logits are not finite in {plan.amp} on a "
            f"{result['tokens']}-token input (the longest prompt plus a full completion): "
            "training would produce NaN. Fix: train without mixed precision, "
            "precision='fp32' (notebook 04's parameter; elsewhere "
            "with_overrides(settings, precision='fp32')): slower, a T4 does 8 fp32 "
            "TFLOPS against 65 in fp16. Loading only the base in fp32 may not be enough: "
            "under fp16 autocast the matrix products still compute in fp16."
        )
    return result


def check_precision(
    model,
    plan: PrecisionPlan,
    frozen: dict | None = None,
    preflight_ids=None,
    moved_to_fp32: int = 0,
) -> dict:
    """Check the contracts on the model that trains (and on the named `frozen` models, with the
    dtype each should have: ``{"reward encoder": (encoder, plan.frozen)}``); the ``precision`` block
    of metrics.json. Raises PrecisionError before any step when a contract is broken."""
    _check_trainable(model, plan)
    frozen_base = [p for p in model.parameters() if not p.requires_grad and p.is_floating_point()]
    if frozen_base and any(p.requires_grad for p in model.parameters()):
        _check_frozen("policy's frozen base", model, plan.frozen, skip_trainable=True)
    for name, (other, expected) in (frozen or {}).items():
        _check_frozen(name, other, expected)
    block = {
        **plan.as_dict(),
        "trainable": _dtypes(p for p in model.parameters() if p.requires_grad),
        "frozen": _dtypes(p for p in model.parameters() if not p.requires_grad),
        "other_models": {
            name: _dtypes(other.parameters()) for name, (other, _) in (frozen or {}).items()
        },
        "moved_to_fp32": moved_to_fp32,
        "preflight": None if preflight_ids is None else preflight(model, plan, preflight_ids),
    }
    return block


def preflight_input(tokenizer, prompt: str, completion_tokens: int):
    """Token ids of `prompt` followed by `completion_tokens` real tokens (the prompt's own,
    repeated): the longest input the trainer will score."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt").input_ids[0]
    filler = ids.repeat(completion_tokens // max(1, len(ids)) + 1)[:completion_tokens]
    return torch.cat([ids, filler])


def four_bit_config(requested: bool, plan: PrecisionPlan):
    """A 4-bit (QLoRA-style NF4) quantisation config computing in the plan's 16-bit dtype, or None
    with the reason when it cannot be had here. bitsandbytes loads NF4 weights on a CUDA GPU, and on
    a CPU too, which is how a rehearsal runs the QLoRA path (TRL's bf16 cast included)."""
    import torch

    if not requested:
        return None
    if not torch.cuda.is_available() and plan.frozen == "float32":
        print(
            "4-bit loading asked for, but there is no CUDA GPU: loading ordinary weights instead."
        )
        return None
    if installed_version("bitsandbytes") is None:
        print(
            "4-bit loading needs bitsandbytes (pip install bitsandbytes): loading "
            "ordinary weights instead."
        )
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=plan.frozen_dtype,
        bnb_4bit_use_double_quant=True,
    )


def keep_4bit_trainable_on_cpu(model) -> None:
    """On a CPU, stop bitsandbytes (0.50) repacking 4-bit weights into its CPU inference layout the
    first time the model runs in eval mode: training afterwards fails in that layout ("a view of a
    leaf Variable ... in-place"). Nothing changes on a GPU. This is what lets a rehearsal run
    QLoRA."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
