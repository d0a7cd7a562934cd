"""The GPU check: what only a GPU shows, measured in one command (issue 23, Build item 6).

    python benchmarks/gpu_check.py [--out gpu_check.json] [--tiny] [--steps N]
                                   [--profiles t4-16gb,...]
    python benchmarks/gpu_check.py --out "$OUT/gpu_check.json"     # on a lent GPU machine

For the training steps of notebooks 02 (SFT of GPT-2), 03 (PPO on GPT-2 with a value head and a
16-bit reference), 04 (GRPO on Qwen2.5-0.5B-Instruct: LoRA r=16 on all linear layers over a 16-bit
base on the fp16 profiles, full fine-tuning on the A100 one) and 06 (reward model and DPO on GPT-2),
at the settings of the real profiles (t4-16gb, rtx2080ti-11gb, a100-40gb in helpers/profiles.py),
with the real architectures and RANDOM weights (configs from helpers/memory/model_configs.json:
nothing is downloaded), it measures

- the peak GPU memory (torch.cuda.max_memory_allocated) of the generation and of one optimizer step
  (every micro-batch of its gradient accumulation), against the course's estimate
  (helpers.memory.fit.notebook_estimate) and against helpers.memory.estimate called with exactly the
  shapes this check ran;
- forward+backward seconds per micro-batch, optimizer-step seconds, and decoding speed
  (model.generate with fixed lengths), against helpers.timing, with the raw figures (tokens,
  parameters, layers, matrix-multiply TFLOPS and copy bandwidth of this card) from which its
  constants can be refitted;
- the dtype contracts of issue 23 item 1 (under fp16 mixed precision every trainable parameter is
  fp32), and defect 1 reproduced: TRL 1.16's QLoRA cast (GRPOTrainer.__init__: "When using QLoRA,
  the PEFT adapter weights are converted to bf16", reimplemented here in four lines) applied to an
  fp16 LoRA model, one step under an fp16 GradScaler (on CUDA:
  "_amp_foreach_non_finite_check_and_unscale_cuda" not implemented for 'BFloat16'), then the fix
  (trainable parameters back to fp32) and a step that succeeds.

Random weights cannot show Qwen2's fp16 overflow (a property of the real weights' activations); the
JSON says so. The check needs only torch, transformers and peft (no TRL, datasets, bitsandbytes, hub
or network) and runs from the working tree. At full size it takes a few minutes on one large GPU
(cases that the estimate says do not fit this card are skipped, an out-of-memory error is recorded
and the check goes on); ``--tiny`` (automatic without CUDA) runs the same code at tiny sizes on a
CPU in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib
import importlib.util
import json
import math
import os
import platform
import sys
import time
import traceback
import warnings
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

SCHEMA = 1
PROFILE_NAMES = ("t4-16gb", "rtx2080ti-11gb", "a100-40gb")
CASE_SECTIONS = ("sft", "ppo_sft", "grpo", "reward_model", "dpo")
NOTEBOOKS = {"sft": "02", "ppo_sft": "03", "grpo": "04", "reward_model": "06", "dpo": "06"}
GPT2, DISTILGPT2, QWEN = "gpt2", "distilgpt2", "Qwen/Qwen2.5-0.5B-Instruct"
MINILM, DISTILBERT = "sentence-transformers/all-MiniLM-L6-v2", "distilbert-base-uncased"
# Used only when helpers/memory/model_configs.json cannot be read: transformers.GPT2Config's
# defaults and Qwen2.5-0.5B-Instruct's config.json.
FALLBACK_CONFIGS = {
    GPT2: {"model_type": "gpt2"},
    QWEN: {
        "model_type": "qwen2",
        "vocab_size": 151936,
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": True,
        "hidden_act": "silu",
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
    DISTILBERT: {"model_type": "distilbert"},
    MINILM: {
        "model_type": "bert",
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
    },
}
TINY_VOCAB = 512
TINY_CONFIGS = {  # --tiny: the same architectures, a few thousand parameters
    "gpt2": dict(
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=256,
        bos_token_id=TINY_VOCAB - 1,
        eos_token_id=TINY_VOCAB - 1,
    ),
    "qwen2": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=TINY_VOCAB - 2,
        eos_token_id=TINY_VOCAB - 1,
    ),
    "distilbert": dict(dim=64, n_layers=1, n_heads=2, hidden_dim=128, max_position_embeddings=256),
    "bert": dict(
        hidden_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=256,
    ),
}
TINY_CAPS = dict(
    batch=2, seq=24, prompt=8, completion=4, accumulation=2, decode_batch=2, decode_tokens=4
)
PROMPT_TOKENS_FALLBACK = {"ppo_sft": 128, "grpo": 200, "preferences": 8}
# TRL 1.16's fused LM head (trl/kernels/chunked_logprob.py): tiles of 4096 tokens x 32768 words.
CHUNK_TOKENS, CHUNK_WORDS = 4096, 32768
# Dense (no sparsity) 16-bit tensor peak and memory bandwidth from NVIDIA's data sheets, to put this
# card's measurements on helpers.timing's scale (its GPUS table uses the same convention). Longest
# match wins.
NOMINAL = {
    "T4": (65.0, 320.0),
    "2080 Ti": (56.9, 616.0),
    "A100": (312.0, 1555.0),
    "A100-SXM4-80GB": (312.0, 2039.0),
    "H100": (989.0, 3350.0),
    "H100 PCIe": (756.0, 2000.0),
    "H200": (989.0, 4800.0),
    "H200 NVL": (835.0, 4800.0),
    "L4": (121.0, 300.0),
    "A10G": (125.0, 600.0),
    "L40S": (362.0, 864.0),
    "V100": (125.0, 900.0),
}
OVERFLOW_NOTE = (
    "Random weights cannot show Qwen2's fp16 overflow (NaN or all-'!' output: "
    "QwenLM/Qwen3 issue 826, transformers issue 33294): it comes from the real weights' "
    "large activations, so finite logits here say nothing about the real "
    "Qwen2.5-0.5B-Instruct in fp16. Only the real model (helpers.precision's pre-flight "
    "on the longest prompt plus a full completion) can show it."
)
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPES_NAME = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


# -------------------------------------------------------------------------------------- environment


def versions() -> dict:
    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }
    for name in ("transformers", "peft", "accelerate"):
        info[name] = version(name)
    info["not_needed_but_installed"] = {
        name: version(name) for name in ("trl", "datasets", "bitsandbytes")
    }
    return info


def course_modules() -> tuple[dict, dict]:
    """The course modules this check compares against, each optional: name -> module, name -> import
    error."""
    found, errors = {}, {}
    for name in (
        "helpers.profiles",
        "helpers.memory.estimate",
        "helpers.memory.fit",
        "helpers.timing",
        "helpers.memory.measure",
        "helpers.precision",
    ):
        try:
            found[name] = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - recorded, the check goes on without it
            errors[name] = f"{type(error).__name__}: {error}"
    return found, errors


def device_info(device: str) -> dict:
    if device != "cuda":
        return {
            "type": "cpu",
            "name": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
        }
    props = torch.cuda.get_device_properties(0)
    try:
        native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # older torch
        native_bf16 = torch.cuda.get_device_capability(0) >= (8, 0)
    matches = sorted((k for k in NOMINAL if k.lower() in props.name.lower()), key=len)
    nominal = NOMINAL[matches[-1]] if matches else None
    return {
        "type": "cuda",
        "name": props.name,
        "capability": list(torch.cuda.get_device_capability(0)),
        "total_memory_gb": round(props.total_memory / 2**30, 3),
        "multiprocessors": props.multi_processor_count,
        "native_bf16": bool(native_bf16),
        "count": torch.cuda.device_count(),
        "nominal_16bit_tflops": nominal[0] if nominal else None,
        "nominal_bandwidth_gb_s": nominal[1] if nominal else None,
        "nominal_source": "NVIDIA data sheet, dense"
        if nominal
        else "unknown card: not in the table",
    }


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(device: str, fn, *args, **kwargs):
    sync(device)
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    sync(device)
    return result, time.perf_counter() - start


def card_speed(device: str, tiny: bool) -> dict:
    """Matrix-multiply TFLOPS per dtype and copy bandwidth of this device: the scale helpers.timing
    uses."""
    size = 256 if tiny or device != "cuda" else 8192  # a CPU's fp16 matmul runs at a few GFLOPS
    result = {"matmul_size": size}
    for name, dtype in DTYPES.items():
        try:
            a = torch.randn(size, size, device=device).to(dtype)
            b = torch.randn(size, size, device=device).to(dtype)
            a @ b  # warm-up
            best = min(timed(device, torch.matmul, a, b)[1] for _ in range(3))
            result[f"matmul_tflops_{name}"] = round(2 * size**3 / best / 1e12, 3)
            del a, b
        except Exception as error:  # noqa: BLE001
            result[f"matmul_tflops_{name}"] = None
            result[f"matmul_error_{name}"] = f"{type(error).__name__}: {error}"
    big = torch.empty((4 if tiny else 1024) * 2**20 // 4, device=device)
    big.clone()
    best = min(timed(device, big.clone)[1] for _ in range(3))
    result["copy_bandwidth_gb_s"] = round(2 * big.numel() * 4 / best / 1e9, 2)  # read + write
    result["tf32_matmul"] = (
        bool(torch.backends.cuda.matmul.allow_tf32) if device == "cuda" else None
    )
    return result


def cleanup(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------- models


def model_configs() -> dict:
    try:
        return json.loads((REPO / "helpers" / "memory" / "model_configs.json").read_text())
    except (OSError, ValueError):
        return FALLBACK_CONFIGS


def build_config(name: str, tiny: bool, **overrides):
    from transformers import AutoConfig

    values = dict(model_configs().get(name, FALLBACK_CONFIGS.get(name, {})))
    model_type = values.pop("model_type")
    if tiny:
        values.update(TINY_CONFIGS[model_type], vocab_size=TINY_VOCAB)
    values.update(overrides)
    return AutoConfig.for_model(model_type, **values)


def build_model(config, device: str, head: str = "causal-lm", dtype=torch.float32, **head_kwargs):
    """Random weights straight on the device; fp32, then cast (no dtype=/torch_dtype= keyword:
    transformers 4.x and 5.x spell it differently)."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

    auto = {
        "causal-lm": AutoModelForCausalLM,
        "classifier": AutoModelForSequenceClassification,
        "encoder": AutoModel,
    }[head]
    for key, value in head_kwargs.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    with torch.device(device):
        model = auto.from_config(config)
    return model.to(dtype)


def parts(model):
    """(the transformers model under a PEFT wrapper, its decoder stack, its output embedding)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base, getattr(base, base.base_model_prefix), base.get_output_embeddings()


def checkpointing(model) -> None:
    """Activation (gradient) checkpointing, non-reentrant; transformers 5.23 renamed the method."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def lora(model, dropout: float):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(
        model,
        LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )


def dtype_counts(parameters) -> dict:
    return dict(Counter(str(p.dtype).replace("torch.", "") for p in parameters))


def trainable(model) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def n_params(model, only_trainable: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not only_trainable)


def tensor_gb(*objects) -> float:
    seen, total = set(), 0
    for obj in objects:
        tensors = []
        if isinstance(obj, torch.nn.Module):
            tensors = [*obj.parameters(), *obj.buffers()]
        elif isinstance(obj, torch.optim.Optimizer):
            tensors = [
                v
                for state in obj.state.values()
                for v in state.values()
                if isinstance(v, torch.Tensor)
            ]
        for tensor in tensors:
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
    return round(total / 2**30, 4)


# -------------------------------------------------------------------------------- log-probabilities


class ChunkedLogProb(torch.autograd.Function):
    """log p(target) = h . w_target - logsumexp(h W^T), never holding more than one 4096-token x
    32768-word tile of logits: the memory pattern of TRL 1.16's fused LM head (SFTTrainer,
    GRPOTrainer, DPOTrainer), in plain torch. Products in ``compute_dtype`` (the autocast dtype),
    sums in fp32."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, compute_dtype):
        with torch.autocast(hidden.device.type, enabled=False):
            out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
            lse = torch.empty_like(out)
            for start in range(0, hidden.shape[0], CHUNK_TOKENS):
                h = hidden[start : start + CHUNK_TOKENS].to(compute_dtype)
                running_max = torch.full((h.shape[0],), -math.inf, device=h.device)
                running_sum = torch.zeros(h.shape[0], device=h.device)
                for word in range(0, weight.shape[0], CHUNK_WORDS):
                    z = (h @ weight[word : word + CHUNK_WORDS].to(compute_dtype).T).float()
                    new_max = torch.maximum(running_max, z.max(dim=1).values)
                    running_sum = running_sum * torch.exp(running_max - new_max) + torch.exp(
                        z.sub_(new_max[:, None])
                    ).sum(dim=1)
                    running_max = new_max
                    del z
                lse[start : start + h.shape[0]] = running_max + torch.log(running_sum)
                t = targets[start : start + CHUNK_TOKENS]
                target_logit = (h.float() * weight[t].float()).sum(dim=-1)
                out[start : start + h.shape[0]] = target_logit - lse[start : start + h.shape[0]]
        ctx.save_for_backward(hidden, weight, targets, lse)
        ctx.compute_dtype = compute_dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, targets, lse = ctx.saved_tensors
        cd = ctx.compute_dtype
        grad_hidden = torch.zeros(hidden.shape, dtype=torch.float32, device=hidden.device)
        grad_weight = (
            torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            if ctx.needs_input_grad[1]
            else None
        )
        with torch.autocast(hidden.device.type, enabled=False):
            for start in range(0, hidden.shape[0], CHUNK_TOKENS):
                end = min(start + CHUNK_TOKENS, hidden.shape[0])
                h, g = hidden[start:end].to(cd), grad_out[start:end].float()
                for word in range(0, weight.shape[0], CHUNK_WORDS):
                    w = weight[word : word + CHUNK_WORDS].to(cd)
                    dz = (
                        (h @ w.T).float().sub_(lse[start:end, None]).exp_().mul_(-g[:, None])
                    )  # -g softmax
                    grad_hidden[start:end] += (dz.to(cd) @ w).float()
                    if grad_weight is not None:
                        grad_weight[word : word + w.shape[0]] += (dz.to(cd).T @ h).float()
                    del dz
                t = targets[start:end]
                grad_hidden[start:end] += g[:, None] * weight[t].float()
                if grad_weight is not None:
                    grad_weight.index_add_(0, t, g[:, None] * h.float())
        return (
            grad_hidden.to(hidden.dtype),
            None if grad_weight is None else grad_weight.to(weight.dtype),
            None,
            None,
        )


def token_logprobs(model, ids, positions: int, compute_dtype, use_cache_off: bool = True):
    """Log-probabilities of the last ``positions`` tokens of ``ids`` (all but the first when 0)."""
    _, backbone, head = parts(model)
    kwargs = {"use_cache": False} if use_cache_off else {}
    hidden = backbone(input_ids=ids, **kwargs).last_hidden_state
    positions = positions or ids.shape[1] - 1
    hidden = hidden[:, -positions - 1 : -1]
    targets = ids[:, -positions:]
    flat = ChunkedLogProb.apply(
        hidden.reshape(-1, hidden.shape[-1]), head.weight, targets.reshape(-1), compute_dtype
    )
    return flat.view(targets.shape)


# ----------------------------------------------------------------------------------------- training


class Step:
    """One optimizer step as transformers' Trainer (through accelerate) runs it: each micro-batch's
    loss divided by the accumulation steps, backward through the fp16 GradScaler when ``amp ==
    "fp16"``, then unscale, clip to ``max_grad_norm``, step, zero the gradients."""

    def __init__(
        self,
        device: str,
        amp: str,
        parameters: list,
        fused: bool,
        max_grad_norm: float | None,
        lr: float = 1e-5,
    ):
        self.device, self.amp, self.parameters, self.max_grad_norm = (
            device,
            amp,
            parameters,
            max_grad_norm,
        )
        self.fused = fused and all(p.dtype == torch.float32 for p in parameters)
        self.optimizer = (
            torch.optim.AdamW(parameters, lr=lr, fused=True)
            if self.fused
            else torch.optim.AdamW(parameters, lr=lr)
        )
        self.scaler = torch.amp.GradScaler(device) if amp == "fp16" else None

    def autocast(self):
        if self.amp == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=DTYPES[self.amp])

    def micro(self, loss_fn, accumulation: int) -> float:
        with self.autocast():
            loss = loss_fn() / accumulation
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        return float(loss.detach()) * accumulation

    def update(self) -> None:
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        if self.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.parameters, self.max_grad_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def run(self, micro_losses: list, steps: int) -> dict:
        """One warm-up step (creates the optimizer states), then ``steps`` measured ones."""
        for loss_fn in micro_losses:
            self.micro(loss_fn, len(micro_losses))
        self.update()
        return self.measured(micro_losses, steps)

    def measured(self, micro_losses: list, steps: int) -> dict:
        """``steps`` measured steps, without a warm-up."""
        fwd_bwd, opt, losses = [], [], []
        for _ in range(steps):
            for loss_fn in micro_losses:
                loss, seconds = timed(self.device, self.micro, loss_fn, len(micro_losses))
                fwd_bwd.append(seconds)
                losses.append(loss)
            opt.append(timed(self.device, self.update)[1])
        return {
            "fwd_bwd_s": fwd_bwd,
            "optimizer_s": opt,
            "losses": losses,
            "loss_finite": all(math.isfinite(x) for x in losses),
            "grad_scale": float(self.scaler.get_scale()) if self.scaler else None,
        }


class Meter:
    """Peak memory inside ``with``: CUDA's own counter on a GPU (above what was allocated before the
    case began), helpers.memory.PeakMemory's live-tensor count on a CPU (when importable)."""

    def __init__(self, device: str, baseline: int, existing: tuple, measure_module=None):
        self.device, self.baseline, self.existing, self.module = (
            device,
            baseline,
            existing,
            measure_module,
        )
        self.gb, self.how = None, None

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.how = "torch.cuda.max_memory_allocated, minus what was allocated before the case"
        elif self.module is not None:
            self._peak = self.module.PeakMemory(*self.existing, device="cpu")
            self._peak.__enter__()
            self.how = "helpers.memory.PeakMemory: live tensor bytes (CPU)"
        return self

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.gb = round((torch.cuda.max_memory_allocated() - self.baseline) / 2**30, 4)
        elif self.module is not None:
            self._peak.__exit__(*exc)
            self.gb = round(self._peak.bytes / 2**30, 4)
        return False


def random_ids(generator, vocab: int, *shape, device: str):
    return torch.randint(0, vocab - 2, shape, generator=generator).to(device)


def generate(model, prompts, new_tokens: int, autocast):
    with torch.no_grad(), autocast:
        try:
            return model.generate(
                input_ids=prompts,
                attention_mask=torch.ones_like(prompts),
                do_sample=True,
                top_k=0,
                top_p=1.0,
                temperature=1.0,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                pad_token_id=0,
            ), "sampled"
        except RuntimeError as error:  # inf/nan probabilities: fall back to greedy, and say so
            if "probability" not in str(error):
                raise
            return model.generate(
                input_ids=prompts,
                attention_mask=torch.ones_like(prompts),
                do_sample=False,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                pad_token_id=0,
            ), f"greedy (sampling failed: {error})"


def decode(
    model,
    device: str,
    vocab: int,
    batch: int,
    prompt_len: int,
    new_tokens: int,
    autocast_fn,
    chunks: int = 1,
    generator=None,
    meter=None,
) -> tuple[dict, list]:
    """Decoding speed: ``chunks`` generate calls of ``batch`` sequences, ``new_tokens`` each (no
    early stop). A 1-token call measures the prefill, so the per-token cost excludes it."""
    model.eval()
    prompts = [
        random_ids(generator, vocab, batch, prompt_len, device=device) for _ in range(chunks)
    ]
    generate(model, prompts[0][:, :8], 2, autocast_fn())  # warm-up
    _, prefill = timed(device, generate, model, prompts[0], 1, autocast_fn())
    sequences, how = [], None
    with meter or contextlib.nullcontext():
        sync(device)
        start = time.perf_counter()
        for chunk in prompts:
            out, how = generate(model, chunk, new_tokens, autocast_fn())
            sequences.append(out)
        sync(device)
        seconds = time.perf_counter() - start
    layers = (
        model.config.num_hidden_layers
        if hasattr(model.config, "num_hidden_layers")
        else model.config.n_layer
    )
    per_call = seconds / chunks
    if per_call > prefill and new_tokens > 1:
        per_step, basis = (
            (per_call - prefill) / (new_tokens - 1),
            "(call - 1-token call) / (new_tokens - 1)",
        )
    else:  # too short to tell the prefill apart (tiny sizes, a noisy machine)
        per_step, basis = per_call / new_tokens, "call / new_tokens (prefill included)"
    return {
        "generate_calls": chunks,
        "batch": batch,
        "prompt_len": prompt_len,
        "new_tokens": new_tokens,
        "sampling": how,
        "seconds": round(seconds, 4),
        "seconds_per_call": round(per_call, 4),
        "prefill_s": round(prefill, 4),
        "tokens_per_s": round(chunks * batch * new_tokens / seconds, 1),
        "ms_per_decode_step": round(per_step * 1000, 4),
        "per_step_basis": basis,
        "ms_per_layer_per_decode_step": round(per_step * 1000 / layers, 4),
        "layers": layers,
        "weights_gb": tensor_gb(model),  # read once per decoding step: the bandwidth bound
        "peak_gb": meter.gb if meter else None,
    }, sequences


# ---------------------------------------------------------------------------------------- estimates


def call_estimate(mods: dict, kind: str, model, **kwargs) -> dict:
    """helpers.memory.estimate of a Step with the keywords it knows (it grows:
    gradient_accumulation_steps)."""
    module = mods.get("helpers.memory.estimate")
    if module is None:
        return {"error": "helpers.memory.estimate could not be imported"}
    import dataclasses

    known = {field.name for field in dataclasses.fields(module.Step)}
    dropped = sorted(k for k in kwargs if k not in known)
    try:
        step = module.Step(kind, model, **{k: v for k, v in kwargs.items() if k in known})
        est = module.estimate(step)
    except Exception as error:  # noqa: BLE001
        return {"error": f"{type(error).__name__}: {error}"}
    return {
        **estimate_block(est),
        "call": {"kind": kind, **{k: _plain(v) for k, v in kwargs.items()}},
        "ignored_keywords": dropped,
    }


def estimate_block(est) -> dict:
    return {
        "gb": round(est.gb, 4),
        "phase": est.phase,
        "phases_gb": {k: round(v / 2**30, 4) for k, v in est.phases.items()},
        "parts_gb": {k: round(v / 2**30, 4) for k, v in est.parts.items()},
        "notes": list(est.notes),
    }


def course_estimate(mods: dict, section: str, settings, tiny_config=None) -> dict:
    fit = mods.get("helpers.memory.fit")
    if fit is None:
        return {"error": "helpers.memory.fit could not be imported"}
    try:
        est = fit.notebook_estimate(section, settings, device="cuda", model=tiny_config)
    except Exception as error:  # noqa: BLE001
        return {"error": f"{type(error).__name__}: {error}"}
    block = estimate_block(est)
    block["call"] = (
        f"helpers.memory.fit.notebook_estimate({section!r}, <profile settings>, device='cuda')"
    )
    if tiny_config is not None:
        block["note"] = (
            "--tiny: the trained model's spec is the tiny config; frozen models keep their real ids"
        )
    return block


def spec_of(mods: dict, config, name: str):
    module = mods.get("helpers.memory.estimate")
    spec = module.model_spec(config)
    return dataclasses.replace(spec, name=name)


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if (
        hasattr(value, "name")
        and hasattr(value, "parameters")
        and not isinstance(value, torch.nn.Module)
    ):
        return f"spec:{value.name}"
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def ratio(estimate: dict, measured) -> float | None:
    if not measured or "gb" not in estimate:
        return None
    return round(estimate["gb"] / measured, 3)


# ------------------------------------------------------------------------------------------- timing


def constants(module) -> dict:
    """A module's upper-case constants that JSON can hold: the values a refit starts from."""
    if module is None:
        return {}
    values = {}
    for name in dir(module):
        if name.isupper():
            value = getattr(module, name)
            try:
                json.dumps(value)
            except TypeError:
                continue
            values[name] = value
    return values


def this_card(device_block: dict, speed: dict, amp: str) -> dict:
    """This GPU in helpers.timing's terms: its nominal peak (when the card is known) and its
    measured one."""
    measured = speed.get(f"matmul_tflops_{amp if amp != 'fp32' else 'fp32'}") or speed.get(
        "matmul_tflops_fp32"
    )
    nominal = device_block.get("nominal_16bit_tflops")
    return {
        "nominal": {"tflops": nominal, "bandwidth_gb_s": device_block.get("nominal_bandwidth_gb_s")}
        if nominal
        else None,
        "measured": {"tflops": measured, "bandwidth_gb_s": speed.get("copy_bandwidth_gb_s")},
    }


def predictions(mods: dict, fn_name: str, spec, cards: dict, *args, **kwargs) -> dict:
    """helpers.timing.<fn_name> on each card: this GPU (nominal peak, and measured matmul/bandwidth)
    and the profile's card, as far as the module in its present state offers it."""
    module = mods.get("helpers.timing")
    fn = getattr(module, fn_name, None) if module else None
    if fn is None or spec is None:
        return {"error": f"helpers.timing.{fn_name} not available"}
    out = {}
    for label, card in cards.items():
        if not card or not card.get("tflops"):
            continue
        try:
            out[label] = round(float(fn(spec, card, *args, **kwargs)), 5)
        except Exception as error:  # noqa: BLE001
            out[label] = f"{type(error).__name__}: {error}"
    return out


def compare(measured: float, predicted: dict) -> dict:
    return {
        k: round(measured / v, 3) for k, v in predicted.items() if isinstance(v, float) and v > 0
    }


# ---------------------------------------------------------------------------------------- contracts


def contract(model, amp: str, frozen: dict) -> dict:
    """Item 1's contract: under fp16 mixed precision every trainable parameter is fp32 (none bf16 or
    fp16); under bf16 none is fp16. ``frozen``: name -> (module, planned dtype)."""
    violations = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        bad = (
            parameter.dtype != torch.float32 if amp == "fp16" else parameter.dtype == torch.float16
        )
        if bad:
            violations.append(f"{name}: {str(parameter.dtype).replace('torch.', '')}")
    frozen_block = {}
    for name, (module, planned) in frozen.items():
        found = dtype_counts(p for p in module.parameters() if p.is_floating_point())
        frozen_block[name] = {"planned": planned, "found": found, "ok": set(found) == {planned}}
    return {
        "amp": amp,
        "trainable": dtype_counts(trainable(model)),
        "frozen_in_model": dtype_counts(p for p in model.parameters() if not p.requires_grad),
        "frozen_models": frozen_block,
        "violations": violations[:8],
        "violation_count": len(violations),
        "ok": not violations and all(v["ok"] for v in frozen_block.values()),
    }


# -------------------------------------------------------------------------------------------- cases


@dataclasses.dataclass
class Context:
    device: str
    tiny: bool
    steps: int
    mods: dict
    device_block: dict
    speed: dict
    native_bf16: bool

    def cap(self, value: int, key: str) -> int:
        return min(value, TINY_CAPS[key]) if self.tiny else value

    def half(self, precision: str) -> str:
        """The 16-bit dtype of frozen weights (helpers.env.half_dtype): bf16 when asked for and
        native."""
        if precision == "bf16" and (self.native_bf16 or self.device != "cuda"):
            return "bf16"
        return "fp16" if precision in ("fp16", "bf16") else "fp32"

    def prompt_tokens(self, section: str) -> int:
        fit = self.mods.get("helpers.memory.fit")
        table = (
            getattr(fit, "PROMPT_TOKENS", PROMPT_TOKENS_FALLBACK) if fit else PROMPT_TOKENS_FALLBACK
        )
        return table.get(section, PROMPT_TOKENS_FALLBACK.get(section, 8))

    def cards(self, amp: str, profile: str) -> dict:
        timing = self.mods.get("helpers.timing")
        card = this_card(self.device_block, self.speed, amp)
        cards = {"this_gpu_nominal": card["nominal"], "this_gpu_measured": card["measured"]}
        if timing is not None:
            name = getattr(timing, "PROFILE_GPUS", {}).get(profile)
            cards[f"profile_card ({name})"] = getattr(timing, "GPUS", {}).get(name)
        return cards


def settings_block(settings) -> dict:
    return {k: _plain(v) for k, v in vars(settings).items()}


def case_sft(ctx: Context, profile: str, s, record: dict, baseline: int) -> None:
    """02: SFTTrainer on GPT-2, full fine-tuning, mixed precision, TRL's chunked LM head."""
    config = build_config(GPT2, ctx.tiny)
    batch, seq = ctx.cap(s.batch_size, "batch"), ctx.cap(s.max_length, "seq")
    accumulation = ctx.cap(s.gradient_accumulation_steps, "accumulation")
    amp = s.precision
    model = build_model(config, ctx.device)
    if s.gradient_checkpointing:
        checkpointing(model)
    model.train()
    record["setup"] = dict(
        model=GPT2,
        trained="full",
        weights="fp32",
        amp=amp,
        batch_size=batch,
        seq_len=seq,
        gradient_accumulation_steps=accumulation,
        gradient_checkpointing=s.gradient_checkpointing,
        optimizer="AdamW fused (Trainer's adamw_torch_fused)",
        max_grad_norm=1.0,
        logits="chunked (TRL 1.16's fused LM head, reimplemented)",
        dropout="config (0.1)",
    )
    spec = spec_of(ctx.mods, config, GPT2)
    record["model"] = {
        "parameters": n_params(model),
        "trainable": n_params(model, True),
        "layers": config.n_layer,
        "hidden": config.n_embd,
        "vocab": config.vocab_size,
    }
    record["contract"] = contract(model, amp, {})
    step = Step(ctx.device, amp, trainable(model), fused=True, max_grad_norm=1.0)
    gen = torch.Generator().manual_seed(0)
    batches = [
        random_ids(gen, config.vocab_size, batch, seq, device=ctx.device)
        for _ in range(accumulation)
    ]
    cd = DTYPES[amp]
    micro = [lambda ids=ids: -token_logprobs(model, ids, 0, cd).mean() for ids in batches]
    weights_gb = tensor_gb(model)
    meter = Meter(
        ctx.device, baseline, (model, step.optimizer), ctx.mods.get("helpers.memory.measure")
    )
    with meter:
        result = step.run(micro, ctx.steps)
    record["memory"] = {
        "weights_gb": weights_gb,
        "optimizer_states_gb": tensor_gb(step.optimizer),
        "training_peak_gb": meter.gb,
        "measured_peak_gb": meter.gb,
        "how": meter.how,
    }
    record["estimate_course"] = course_estimate(ctx.mods, "sft", s, config if ctx.tiny else None)
    record["estimate_matched"] = call_estimate(
        ctx.mods,
        "sft",
        spec,
        batch_size=batch,
        seq_len=seq,
        precision=amp,
        device="cuda",
        gradient_checkpointing=s.gradient_checkpointing,
        attention_dropout=True,
        optimizer="adamw_fused",
        logits="chunked",
        gradient_accumulation_steps=accumulation,
    )
    tokens = batch * seq
    record["time"] = train_time(
        ctx,
        result,
        spec,
        tokens,
        lora=False,
        checkpointing=s.gradient_checkpointing,
        amp=amp,
        profile=profile,
        trainable_count=n_params(model, True),
    )
    # 02's evaluation: 16 GSM8K problems per generate call, eval_max_new_tokens each (sampled here:
    # the cost per token is greedy's)
    d, _ = decode(
        model,
        ctx.device,
        config.vocab_size,
        ctx.cap(16, "decode_batch"),
        ctx.cap(128, "prompt"),
        ctx.cap(s.eval_max_new_tokens, "decode_tokens"),
        contextlib.nullcontext,
        generator=gen,
        meter=Meter(ctx.device, baseline, (model,), None),
    )
    d["what"] = "02's GSM8K evaluation: fp32 weights, no autocast"
    d["predicted_s"] = predictions(
        ctx.mods, "_decode_seconds", spec, ctx.cards(amp, profile), d["new_tokens"], 2, d["batch"]
    )
    d["measured_over_predicted"] = compare(d["seconds_per_call"], d["predicted_s"])
    record["decode"] = d


def case_ppo(ctx: Context, profile: str, s, record: dict, baseline: int) -> None:
    """03: TRL 0.11's PPO on GPT-2: fp32 policy with a value head (no mixed precision), a 16-bit
    reference and a 16-bit MiniLM reward encoder; generation in mini-batch chunks; full logits."""
    nodrop = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)  # disable_dropout_in_model
    config = build_config(GPT2, ctx.tiny, **nodrop)
    half = ctx.half(s.precision)
    mini = ctx.cap(s.mini_batch_size, "batch")
    batch = 2 * mini if ctx.tiny else s.batch_size
    prompt, completion = (
        ctx.cap(ctx.prompt_tokens("ppo_sft"), "prompt"),
        ctx.cap(s.max_new_tokens, "completion"),
    )
    model = build_model(config, ctx.device)
    value_head = torch.nn.Linear(config.n_embd, 1, device=ctx.device)
    reference = build_model(
        build_config(GPT2, ctx.tiny, **nodrop), ctx.device, dtype=DTYPES[half]
    ).eval()
    encoder = build_model(
        build_config(MINILM, ctx.tiny), ctx.device, head="encoder", dtype=DTYPES[half]
    ).eval()
    for frozen in (reference, encoder):
        frozen.requires_grad_(False)
    record["setup"] = dict(
        model=GPT2,
        trained="full + value head",
        weights="fp32",
        amp="fp32 (TRL 0.11 uses none)",
        reference=f"GPT-2 copy in {half}",
        reward_encoder=f"MiniLM in {half}",
        batch_size=batch,
        mini_batch_size=mini,
        prompt_len=prompt,
        completion_len=completion,
        generation="mini-batch chunks",
        optimizer="AdamW (torch default, foreach)",
        max_grad_norm=None,
        logits="full",
        ppo_epochs_per_step=4,
        updates_per_ppo_step=4 * max(1, batch // mini),
        dropout="off",
    )
    spec = spec_of(ctx.mods, config, GPT2)
    record["model"] = {
        "parameters": n_params(model),
        "trainable": n_params(model, True) + n_params(value_head),
        "layers": config.n_layer,
        "hidden": config.n_embd,
        "vocab": config.vocab_size,
    }
    record["contract"] = contract(
        model,
        "fp32",
        {
            "reference": (reference, DTYPES_NAME[half]),
            "reward encoder": (encoder, DTYPES_NAME[half]),
        },
    )
    gen = torch.Generator().manual_seed(0)
    measure = ctx.mods.get("helpers.memory.measure")
    weights_gb = tensor_gb(model, value_head, reference, encoder)
    gen_meter = Meter(ctx.device, baseline, (model, value_head, reference, encoder), measure)
    d, chunks = decode(
        model,
        ctx.device,
        config.vocab_size,
        mini,
        prompt,
        completion,
        contextlib.nullcontext,
        chunks=max(1, batch // mini),
        generator=gen,
        meter=gen_meter,
    )
    d["what"] = (
        "03's PPO rollout: TRL 0.11 generates each batch in mini-batch chunks, fp32, no autocast"
    )
    d["predicted_s"] = predictions(
        ctx.mods, "_decode_seconds", spec, ctx.cards("fp32", profile), completion, 4, mini
    )
    d["measured_over_predicted"] = compare(d["seconds_per_call"], d["predicted_s"])
    record["decode"] = d
    sequences = torch.cat(chunks)
    model.train()
    _, backbone, head = parts(model)

    def forward(ids):
        hidden = backbone(input_ids=ids).last_hidden_state
        logits = head(hidden)[:, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
        return logits, logprobs, value_head(hidden).squeeze(-1)[:, :-1]

    def score():
        with torch.no_grad():
            encoder(input_ids=sequences[:, -completion:] % encoder.config.vocab_size)
            old = [forward(sequences[i : i + mini])[1:] for i in range(0, len(sequences), mini)]
            _, ref_backbone, ref_head = parts(reference)
            for i in range(0, len(sequences), mini):
                ref_head(
                    ref_backbone(input_ids=sequences[i : i + mini]).last_hidden_state
                ).float().log_softmax(-1)
        return old

    old, score_s = timed(ctx.device, score)
    step = Step(
        ctx.device,
        "fp32",
        [*trainable(model), *value_head.parameters()],
        fused=False,
        max_grad_norm=None,
        lr=s.learning_rate,
    )

    def update_loss(index: int):
        ids = sequences[index * mini : (index + 1) * mini]
        logits, logprobs, values = forward(ids)
        entropy = torch.logsumexp(logits, dim=-1) - (torch.softmax(logits, dim=-1) * logits).sum(
            -1
        )  # logged
        ratio_ = torch.exp(logprobs - old[index][0])
        advantages = torch.randn(ratio_.shape, generator=gen).to(ctx.device)
        loss = -torch.min(ratio_ * advantages, ratio_.clamp(0.8, 1.2) * advantages).mean()
        del entropy
        return loss + 0.1 * ((values - old[index][1]) ** 2).mean()

    train_meter = Meter(
        ctx.device, baseline, (model, value_head, reference, encoder, step.optimizer), measure
    )
    with train_meter:
        result = step.run([lambda: update_loss(0)], ctx.steps)
    peaks = [g for g in (gen_meter.gb, train_meter.gb) if g is not None]
    record["memory"] = {
        "weights_gb": weights_gb,
        "optimizer_states_gb": tensor_gb(step.optimizer),
        "generation_peak_gb": gen_meter.gb,
        "training_peak_gb": train_meter.gb,
        "measured_peak_gb": max(peaks) if peaks else None,
        "how": train_meter.how,
        "note": "the generation peak is measured before the optimizer states exist (as in a "
        "PPO step after the first they would be alive: add optimizer_states_gb)",
    }
    record["estimate_course"] = course_estimate(
        ctx.mods, "ppo_sft", s, config if ctx.tiny else None
    )
    encoder_spec = spec_of(ctx.mods, encoder.config, MINILM)
    record["estimate_matched"] = call_estimate(
        ctx.mods,
        "ppo",
        spec,
        batch_size=mini,
        generation_batch=mini,
        prompt_len=prompt,
        completion_len=completion,
        device="cuda",
        optimizer="adamw",
        reference="copy",
        frozen_models=(encoder_spec,),
        frozen_weights="16-bit",
    )
    record["time"] = train_time(
        ctx,
        result,
        spec,
        mini * (prompt + completion),
        lora=False,
        checkpointing=False,
        amp="fp32",
        profile=profile,
        trainable_count=record["model"]["trainable"],
    )
    record["time"]["scoring_s"] = round(score_s, 4)
    t = record["time"]
    t["ppo_step_s_derived"] = round(
        d["seconds"]
        + score_s
        + record["setup"]["updates_per_ppo_step"] * (t["fwd_bwd_s_mean"] + t["optimizer_s_mean"]),
        3,
    )


def case_grpo(ctx: Context, profile: str, s, record: dict, baseline: int) -> None:
    """04: GRPOTrainer on Qwen2.5-0.5B: LoRA r=16 all-linear over a 16-bit base (fp16 profiles) or
    full fine-tuning (A100 profile); one generation batch of per_device x accumulation completions,
    then its micro-batches; beta 0 (no reference); logits of completion tokens only, chunked."""
    config = build_config(QWEN, ctx.tiny)
    use_lora = bool(s.lora or s.load_in_4bit)
    half = ctx.half(s.precision)
    amp = s.precision
    per_device = ctx.cap(s.per_device_train_batch_size, "batch")
    accumulation = ctx.cap(s.gradient_accumulation_steps, "accumulation")
    prompt, completion = (
        ctx.cap(ctx.prompt_tokens("grpo"), "prompt"),
        ctx.cap(s.max_completion_length, "completion"),
    )
    generation_batch = per_device * accumulation
    model = build_model(config, ctx.device, dtype=DTYPES[half] if use_lora else torch.float32)
    if use_lora:
        model = lora(model, dropout=0.05)
    if s.gradient_checkpointing:
        checkpointing(parts(model)[0])
    record["setup"] = dict(
        model=QWEN,
        trained="LoRA r=16 all-linear" if use_lora else "full",
        weights=DTYPES_NAME[half] if use_lora else "float32",
        amp=amp,
        load_in_4bit=f"{s.load_in_4bit} (4-bit needs bitsandbytes: not measured here)",
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        generation_batch=generation_batch,
        num_generations=s.num_generations,
        prompt_len=prompt,
        completion_len=completion,
        gradient_checkpointing=s.gradient_checkpointing,
        optimizer="AdamW fused",
        max_grad_norm=1.0,
        beta=s.beta,
        reference=None,
        logits="completion tokens only, chunked",
        generation_autocast=amp,
    )
    spec = spec_of(ctx.mods, config, QWEN)
    record["model"] = {
        "parameters": n_params(model),
        "trainable": n_params(model, True),
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "vocab": config.vocab_size,
    }
    record["contract"] = contract(model, amp, {})
    if use_lora:
        base_dtypes = dtype_counts(p for p in model.parameters() if not p.requires_grad)
        record["contract"]["frozen_in_model_planned"] = DTYPES_NAME[half]
        record["contract"]["ok"] = record["contract"]["ok"] and set(base_dtypes) == {
            DTYPES_NAME[half]
        }
    gen = torch.Generator().manual_seed(0)
    measure = ctx.mods.get("helpers.memory.measure")
    weights_gb = tensor_gb(model)
    step = Step(
        ctx.device, amp, trainable(model), fused=True, max_grad_norm=1.0, lr=s.learning_rate
    )
    sequences = random_ids(
        gen, config.vocab_size, generation_batch, prompt + completion, device=ctx.device
    )
    cd = DTYPES[amp]

    def micro_loss(index: int):
        ids = sequences[index * per_device : (index + 1) * per_device]
        logprobs = token_logprobs(model, ids, completion, cd)
        advantages = torch.randn(len(ids), 1, generator=gen).to(ctx.device)
        return -(
            torch.exp(logprobs - logprobs.detach()) * advantages
        ).mean()  # dapo: mean over tokens

    model.train()
    # warm-up first (the optimizer states must exist when the generation peak is measured, as in
    # every step after the first), then generation, then the measured steps on its completions
    for i in range(accumulation):
        step.micro(lambda i=i: micro_loss(i), accumulation)
    step.update()
    autocast = step.autocast
    gen_meter = Meter(ctx.device, baseline, (model, step.optimizer), measure)
    d, out = decode(
        model,
        ctx.device,
        config.vocab_size,
        generation_batch,
        prompt,
        completion,
        autocast,
        generator=gen,
        meter=gen_meter,
    )
    sequences = out[0]
    d["what"] = "04's rollout: one generation batch, under the trainer's autocast" + (
        ", LoRA adapters unmerged (TRL 1.16 does not merge them)" if use_lora else ""
    )
    d["predicted_s"] = predictions(
        ctx.mods,
        "_decode_seconds",
        spec,
        ctx.cards(amp, profile),
        completion,
        2 if use_lora else 4,
        generation_batch,
    )
    d["measured_over_predicted"] = compare(d["seconds_per_call"], d["predicted_s"])
    if use_lora:  # the same model with the adapters off: what merged adapters would cost
        with model.disable_adapter():
            base_d, _ = decode(
                model,
                ctx.device,
                config.vocab_size,
                generation_batch,
                prompt,
                max(2, completion // 4),
                autocast,
                generator=gen,
            )
        d["adapters_off"] = {
            k: base_d[k]
            for k in (
                "new_tokens",
                "seconds_per_call",
                "prefill_s",
                "tokens_per_s",
                "ms_per_decode_step",
                "ms_per_layer_per_decode_step",
            )
        }
        d["unmerged_lora_slowdown"] = round(
            d["ms_per_decode_step"] / max(base_d["ms_per_decode_step"], 1e-9), 3
        )
    record["decode"] = d
    model.train()
    train_meter = Meter(ctx.device, baseline, (model, step.optimizer), measure)
    micro = [lambda i=i: micro_loss(i) for i in range(accumulation)]
    with train_meter:
        result = step.measured(micro, ctx.steps)  # the caller ran the warm-up
    peaks = [g for g in (gen_meter.gb, train_meter.gb) if g is not None]
    record["memory"] = {
        "weights_gb": weights_gb,
        "optimizer_states_gb": tensor_gb(step.optimizer),
        "generation_peak_gb": gen_meter.gb,
        "training_peak_gb": train_meter.gb,
        "measured_peak_gb": max(peaks) if peaks else None,
        "how": train_meter.how,
    }
    record["estimate_course"] = course_estimate(ctx.mods, "grpo", s, config if ctx.tiny else None)
    record["estimate_matched"] = call_estimate(
        ctx.mods,
        "grpo",
        spec,
        batch_size=per_device,
        generation_batch=generation_batch,
        prompt_len=prompt,
        completion_len=completion,
        precision=amp,
        device="cuda",
        weights=("16-bit" if use_lora else "fp32"),
        lora_rank=16 if use_lora else None,
        lora_targets="all-linear",
        gradient_checkpointing=s.gradient_checkpointing,
        optimizer="adamw_fused",
        reference=None,
        logits="chunked",
        gradient_accumulation_steps=accumulation,
    )
    record["time"] = train_time(
        ctx,
        result,
        spec,
        per_device * (prompt + completion),
        lora=use_lora,
        checkpointing=s.gradient_checkpointing,
        amp=amp,
        profile=profile,
        trainable_count=n_params(model, True),
    )
    t = record["time"]
    t["grpo_step_s_derived"] = round(
        d["seconds"] + accumulation * t["fwd_bwd_s_mean"] + t["optimizer_s_mean"], 3
    )
    timing = ctx.mods.get("helpers.timing")
    if timing is not None and not ctx.tiny:
        try:
            t["course_seconds_per_step_on_profile_card"] = timing.minutes(
                "grpo", s, timing.PROFILE_GPUS[profile]
            ).seconds_per_step
        except Exception as error:  # noqa: BLE001
            t["course_seconds_per_step_on_profile_card"] = f"{type(error).__name__}: {error}"


def case_preferences(
    ctx: Context, profile: str, s, record: dict, baseline: int, section: str
) -> None:
    """06: the Bradley-Terry reward model (RewardTrainer: a one-number head on GPT-2) or DPO
    (DPOTrainer: the policy against a frozen fp32 copy), chosen and rejected in one batch, mixed
    precision, dropout off; the models the notebook keeps loaded meanwhile (01's classifier and
    policy, the reference) stay resident."""
    nodrop = dict(
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )  # disable_dropout=True in both configs
    config = build_config(GPT2, ctx.tiny, **nodrop)
    amp = s.precision
    pairs = ctx.cap(s.reward_batch_size if section == "reward_model" else s.dpo_batch_size, "batch")
    prompt = ctx.cap(ctx.prompt_tokens("preferences"), "prompt")
    completion = ctx.cap(s.max_new_tokens + 1, "completion")  # + the end-of-text TRL appends
    length = prompt + completion
    if section == "reward_model":
        model = build_model(
            config, ctx.device, head="classifier", num_labels=1, pad_token_id=config.vocab_size - 1
        )
    else:
        model = build_model(config, ctx.device)
    frozen = {
        "01's genre classifier (DistilBERT)": build_model(
            build_config(DISTILBERT, ctx.tiny), ctx.device, head="classifier", num_labels=4
        ),
        "01's policy": build_model(build_config(GPT2, ctx.tiny), ctx.device),
    }
    if section == "dpo":
        frozen["the notebook's reference"] = build_model(build_config(GPT2, ctx.tiny), ctx.device)
        frozen["DPOTrainer's own reference (fp32 copy)"] = build_model(
            build_config(GPT2, ctx.tiny, **nodrop), ctx.device
        )
    for module in frozen.values():
        module.requires_grad_(False).eval()
    model.train()
    record["setup"] = dict(
        model=GPT2,
        head="one-number score" if section == "reward_model" else "causal LM",
        trained="full",
        weights="fp32",
        amp=amp,
        pairs_per_batch=pairs,
        sequences_per_batch=2 * pairs,
        seq_len=length,
        completion_len=completion,
        optimizer="AdamW fused",
        max_grad_norm=1.0,
        dropout="off",
        logits="none (score head)" if section == "reward_model" else "completion tokens, chunked",
        resident=sorted(frozen),
    )
    spec = spec_of(ctx.mods, config, GPT2)
    record["model"] = {
        "parameters": n_params(model),
        "trainable": n_params(model, True),
        "layers": config.n_layer,
        "hidden": config.n_embd,
        "vocab": config.vocab_size,
    }
    record["contract"] = contract(model, amp, {k: (v, "float32") for k, v in frozen.items()})
    gen = torch.Generator().manual_seed(0)
    ids = random_ids(gen, config.vocab_size, 2 * pairs, length, device=ctx.device)
    cd = DTYPES[amp]
    if section == "reward_model":

        def loss_fn():
            scores = model(input_ids=ids).logits.float().squeeze(-1)
            return -torch.nn.functional.logsigmoid(scores[:pairs] - scores[pairs:]).mean()
    else:
        reference = frozen["DPOTrainer's own reference (fp32 copy)"]

        def loss_fn():
            policy = token_logprobs(model, ids, completion, cd).sum(-1)
            with torch.no_grad():
                ref = token_logprobs(reference, ids, completion, cd).sum(-1)
            margin = (policy[:pairs] - ref[:pairs]) - (policy[pairs:] - ref[pairs:])
            return -torch.nn.functional.logsigmoid(s.dpo_beta * margin).mean()

    step = Step(ctx.device, amp, trainable(model), fused=True, max_grad_norm=1.0)
    weights_gb = tensor_gb(model, *frozen.values())
    meter = Meter(
        ctx.device,
        baseline,
        (model, step.optimizer, *frozen.values()),
        ctx.mods.get("helpers.memory.measure"),
    )
    with meter:
        result = step.run([loss_fn], ctx.steps)
    record["memory"] = {
        "weights_gb": weights_gb,
        "optimizer_states_gb": tensor_gb(step.optimizer),
        "training_peak_gb": meter.gb,
        "measured_peak_gb": meter.gb,
        "how": meter.how,
    }
    record["estimate_course"] = course_estimate(ctx.mods, section, s, config if ctx.tiny else None)
    names = list(frozen)
    specs = [spec_of(ctx.mods, module.config, name) for name, module in frozen.items()]
    common = dict(
        batch_size=2 * pairs, seq_len=length, precision=amp, device="cuda", optimizer="adamw_fused"
    )
    if section == "reward_model":
        record["estimate_matched"] = call_estimate(
            ctx.mods, "sft", spec, **common, frozen_models=tuple(specs), logits="none"
        )
    else:
        record["estimate_matched"] = call_estimate(
            ctx.mods,
            "sft",
            spec,
            **common,
            reference="copy",
            frozen_models=tuple(
                sp for name, sp in zip(names, specs) if "own reference" not in name
            ),
            logits="chunked",
        )
    record["time"] = train_time(
        ctx,
        result,
        spec,
        2 * pairs * length,
        lora=False,
        checkpointing=False,
        amp=amp,
        profile=profile,
        trainable_count=n_params(model, True),
    )
    if section == "dpo":  # 06's preference pairs: 01's policy generates 32 texts per call, fp32
        policy = frozen["01's policy"]
        d, _ = decode(
            policy,
            ctx.device,
            config.vocab_size,
            ctx.cap(32, "decode_batch"),
            prompt,
            ctx.cap(s.max_new_tokens, "decode_tokens"),
            contextlib.nullcontext,
            generator=gen,
        )
        d["what"] = "06's preference pairs: 01's fp32 policy, 32 texts per generate call"
        d["predicted_s"] = predictions(
            ctx.mods,
            "_decode_seconds",
            spec,
            ctx.cards("fp32", profile),
            d["new_tokens"],
            4,
            d["batch"],
        )
        d["measured_over_predicted"] = compare(d["seconds_per_call"], d["predicted_s"])
        record["decode"] = d


def train_time(
    ctx: Context,
    result: dict,
    spec,
    tokens: int,
    lora: bool,
    checkpointing: bool,
    amp: str,
    profile: str,
    trainable_count: int,
) -> dict:
    """Measured seconds per micro-batch and per optimizer step, and helpers.timing's prediction for
    them."""
    fwd = result["fwd_bwd_s"] or [float("nan")]
    opt = result["optimizer_s"] or [float("nan")]
    mean_fwd, mean_opt = sum(fwd) / len(fwd), sum(opt) / len(opt)
    factor = (4 if lora else 6) + (
        2 if checkpointing else 0
    )  # helpers.timing's FLOPs per token per weight
    parameters = getattr(spec, "parameters", None)
    block = {
        "tokens_per_micro_batch": tokens,
        "fwd_bwd_s": [round(x, 5) for x in fwd],
        "optimizer_s": [round(x, 5) for x in opt],
        "fwd_bwd_s_mean": round(mean_fwd, 5),
        "optimizer_s_mean": round(mean_opt, 5),
        "trainable_parameters": trainable_count,
        "optimizer_s_per_million_trainable": round(mean_opt / max(trainable_count, 1) * 1e6, 6),
        "flops_factor": factor,
        "losses_finite": result["loss_finite"],
        "grad_scale": result["grad_scale"],
        "achieved_tflops": round(factor * parameters * tokens / mean_fwd / 1e12, 3)
        if parameters and mean_fwd > 0
        else None,
    }
    block["predicted_fwd_bwd_s"] = predictions(
        ctx.mods, "_train_seconds", spec, ctx.cards(amp, profile), tokens, lora, checkpointing
    )
    block["measured_over_predicted"] = compare(mean_fwd, block["predicted_fwd_bwd_s"])
    return block


CASES = {"sft": case_sft, "ppo_sft": case_ppo, "grpo": case_grpo}


def run_case(ctx: Context, profile: str, section: str, deadline: float, force: bool) -> dict:
    profiles = ctx.mods["helpers.profiles"]
    settings = profiles.PROFILES[profile].notebook(
        "preferences" if section in ("reward_model", "dpo") else section, rehearsal=False
    )
    record = {
        "name": f"{NOTEBOOKS[section]} {section} @ {profile}",
        "notebook": NOTEBOOKS[section],
        "section": section,
        "profile": profile,
        "settings": settings_block(settings),
        "status": "running",
    }
    if time.perf_counter() > deadline:
        record.update(status="skipped", reason="the time budget (--budget-s) is spent")
        return record
    if ctx.device == "cuda" and not ctx.tiny and not force:
        course = course_estimate(ctx.mods, section, settings)
        usable = ctx.device_block["total_memory_gb"] * 0.9 - 0.5
        if "gb" in course and course["gb"] > usable:
            record.update(
                status="skipped",
                estimate_course=course,
                reason=f"estimated {course['gb']:.1f} GB > {usable:.1f} GB usable here (--force "
                "runs it)",
            )
            return record
    cleanup(ctx.device)
    baseline = torch.cuda.memory_allocated() if ctx.device == "cuda" else 0
    record["baseline_allocated_gb"] = round(baseline / 2**30, 4)
    start = time.perf_counter()
    try:
        if section in CASES:
            CASES[section](ctx, profile, settings, record, baseline)
        else:
            case_preferences(ctx, profile, settings, record, baseline, section)
        record["status"] = "ok"
    except torch.cuda.OutOfMemoryError as error:
        record.update(status="oom", error=str(error).splitlines()[0])
    except Exception as error:  # noqa: BLE001 - one case failing must not lose the others
        record.update(
            status="error",
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(limit=6),
        )
    record["wall_s"] = round(time.perf_counter() - start, 2)
    measured = record.get("memory", {}).get("measured_peak_gb")
    for key in ("estimate_course", "estimate_matched"):
        if key in record:
            record[key]["estimate_over_measured"] = ratio(record[key], measured)
    cleanup(ctx.device)
    return record


# ----------------------------------------------------------------------------- defect 1: QLoRA cast


def qlora_cast_check(ctx: Context) -> dict:
    """Defect 1: TRL 1.16's QLoRA bf16 cast on an fp16 LoRA model, one step under the fp16
    GradScaler, then the fix. The base is fp16, not NF4 (no bitsandbytes here): the cast and the
    scaler are what matter."""
    from transformers import __version__ as transformers_version

    config = build_config(QWEN, ctx.tiny)
    model = build_model(config, ctx.device, dtype=torch.float16)
    model = lora(model, dropout=0.05)
    block = {
        "model": f"{QWEN} architecture, random weights{' (tiny sizes)' if ctx.tiny else ''}",
        "base_dtype": "float16",
        "lora": "r=16, alpha 32, all-linear",
        "amp": "fp16 autocast + GradScaler",
        "transformers": transformers_version,
        "device": ctx.device,
        "trainable_after_get_peft_model": dtype_counts(trainable(model)),
    }
    # TRL 1.16, GRPOTrainer.__init__ (trl/trainer/grpo_trainer.py): "When using QLoRA, the PEFT
    # adapter weights are converted to bf16 ..." -- applied there to quantized models; reproduced as
    # written.
    for name, param in model.named_parameters():
        if param.requires_grad and "lora_magnitude_vector" not in name:
            param.data = param.data.to(torch.bfloat16)
    block["trainable_after_trl_qlora_cast"] = dtype_counts(trainable(model))
    block["contract_after_cast"] = contract(model, "fp16", {})
    block["course_audit_after_cast"] = course_audit(ctx, model)
    gen = torch.Generator().manual_seed(0)
    ids = random_ids(gen, config.vocab_size, 2, ctx.cap(64, "seq"), device=ctx.device)

    def one_step() -> dict:
        step = Step(ctx.device, "fp16", trainable(model), fused=False, max_grad_norm=1.0)
        try:
            loss = step.micro(lambda: -token_logprobs(model, ids, 0, torch.float16).mean(), 1)
            grads = dtype_counts(p.grad for p in trainable(model) if p.grad is not None)
            step.update()
            return {
                "ok": True,
                "loss": round(loss, 5),
                "gradient_dtypes": grads,
                "grad_scale_after": float(step.scaler.get_scale()),
            }
        except Exception as error:  # noqa: BLE001 - the crash is the finding
            return {"ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
        finally:
            for p in trainable(model):
                p.grad = None

    block["step_with_cast"] = one_step()
    block["crash_expected_here"] = ctx.device == "cuda"
    block["crash_reproduced"] = (not block["step_with_cast"]["ok"]) and "BFloat16" in block[
        "step_with_cast"
    ]["error"]
    if ctx.device != "cuda":
        block["note"] = (
            "On a CPU the GradScaler accepts bf16 gradients, so the crash cannot be "
            "reproduced here; the dtype violation the cast causes is what this check "
            "finds (contract_after_cast)."
        )
    # The fix (helpers.precision.trainables_to_fp32): after the trainer is built, before its
    # optimizer exists.
    moved = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            moved += 1
    block["fix"] = {
        "what": "every trainable parameter back to fp32 before the optimizer is built",
        "parameters_moved": moved,
        "trainable_after_fix": dtype_counts(trainable(model)),
    }
    block["contract_after_fix"] = contract(model, "fp16", {})
    block["course_audit_after_fix"] = course_audit(ctx, model)
    block["step_after_fix"] = one_step()
    block["fix_works"] = block["step_after_fix"]["ok"] and block["contract_after_fix"]["ok"]
    cleanup(ctx.device)
    return block


def course_audit(ctx: Context, model) -> dict:
    """helpers.precision.check_precision (issue 23 item 1) on this model with the fp16 plan, if
    present."""
    module = ctx.mods.get("helpers.precision")
    if module is None:
        return {"available": False}
    try:
        plan = module.PrecisionPlan(
            precision="fp16",
            amp="fp16",
            frozen="float16",
            runs="fp16" if ctx.device == "cuda" else "fp32",
            trainer_flags={},
        )
        block = module.check_precision(model, plan)
        return {
            "available": True,
            "raised": None,
            "block": {k: _plain(v) if not isinstance(v, dict) else v for k, v in block.items()},
        }
    # a PrecisionError is the expected answer after the cast
    except Exception as error:  # noqa: BLE001
        return {"available": True, "raised": f"{type(error).__name__}: {str(error)[:300]}"}


# --------------------------------------------------------------------------------------------- main


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(results: dict) -> str:
    rows = [
        f"{'case':<34}{'status':>8}{'peak GB':>9}{'course est':>16}{'matched est':>16}"
        f"{'fwd+bwd s':>11}"
        f"{'opt s':>8}{'decode tok/s':>13}{'ms/layer':>9}{'contract':>9}"
    ]
    for r in results["cases"]:
        mem = r.get("memory", {})
        peak = mem.get("measured_peak_gb")

        def est(key, r=r):
            e = r.get(key, {})
            if "gb" not in e:
                return "-"
            rat = e.get("estimate_over_measured")
            return f"{e['gb']:.2f} ({rat:.2f}x)" if rat else f"{e['gb']:.2f}"

        t, d = r.get("time", {}), r.get("decode", {})
        contract_text = (
            "-" if "contract" not in r else "ok" if r["contract"].get("ok") else "BROKEN"
        )
        rows.append(
            f"{r['name']:<34}{r['status']:>8}{fmt(peak, '.3f'):>9}"
            f"{est('estimate_course'):>16}{est('estimate_matched'):>16}"
            f"{fmt(t.get('fwd_bwd_s_mean'), '.4f'):>11}{fmt(t.get('optimizer_s_mean'), '.4f'):>8}"
            f"{fmt(d.get('tokens_per_s'), '.0f'):>13}"
            f"{fmt(d.get('ms_per_layer_per_decode_step'), '.3f'):>9}"
            f"{contract_text:>9}"
        )
        if r["status"] not in ("ok",):
            rows.append(f"    {r.get('reason') or r.get('error', '')}"[:160])
    q = results.get("qlora_cast_check", {})
    if q:
        rows.append("")
        rows.append(
            f"Defect 1 (TRL's QLoRA bf16 cast under an fp16 GradScaler, {q.get('device')}):"
        )
        rows.append(
            f"  after get_peft_model: {q.get('trainable_after_get_peft_model')}; after TRL's cast: "
            f"{q.get('trainable_after_trl_qlora_cast')}; contract violations: "
            f"{q.get('contract_after_cast', {}).get('violation_count')}"
        )
        step = q.get("step_with_cast", {})
        rows.append(
            f"  step with the cast: {'ok' if step.get('ok') else step.get('error')}"
            + (
                ""
                if q.get("crash_expected_here")
                else "  (a CPU's scaler accepts bf16: no crash expected)"
            )
        )
        fixed = q.get("step_after_fix", {})
        rows.append(
            "  fix (trainables to fp32): moved "
            f"{q.get('fix', {}).get('parameters_moved')}; step after fix: "
            f"{'ok, loss ' + str(fixed.get('loss')) if fixed.get('ok') else fixed.get('error')}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", default="gpu_check.json", help="where to write the JSON (default gpu_check.json)"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (automatic without CUDA)")
    parser.add_argument(
        "--full", action="store_true", help="real sizes even on a CPU (slow: minutes a case)"
    )
    parser.add_argument(
        "--device", choices=["cuda", "cpu"], default=None, help="default: cuda when available"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="measured optimizer steps per case (default 3; tiny 1)",
    )
    parser.add_argument(
        "--profiles", default=",".join(PROFILE_NAMES), help="comma-separated real profiles"
    )
    parser.add_argument(
        "--sections", default=",".join(CASE_SECTIONS), help=f"some of {','.join(CASE_SECTIONS)}"
    )
    parser.add_argument(
        "--budget-s", type=float, default=270.0, help="skip the remaining cases after this long"
    )
    parser.add_argument(
        "--force", action="store_true", help="run cases the estimate says do not fit this card"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device")
    tiny = args.tiny or (device == "cpu" and not args.full)
    steps = args.steps if args.steps is not None else (1 if tiny else 3)
    if steps < 1:
        parser.error("--steps must be at least 1")
    profile_names = [p.strip() for p in args.profiles.split(",") if p.strip()]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [p for p in profile_names if p not in PROFILE_NAMES] + [
        s for s in sections if s not in CASE_SECTIONS
    ]
    if unknown:
        parser.error(
            f"unknown profile or section {unknown}; profiles {PROFILE_NAMES}, sections "
            f"{CASE_SECTIONS}"
        )
    if tiny and device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    warnings.filterwarnings(
        "ignore", category=FutureWarning
    )  # transformers 5's renames, inside peft
    try:
        import transformers

        transformers.logging.set_verbosity_error()
    except ImportError:
        print("transformers is not installed: this check needs torch, transformers and peft.")
        return 2
    mods, import_errors = course_modules()
    if "helpers.profiles" not in mods:
        print(
            f"Cannot import helpers.profiles from {REPO}: {import_errors.get('helpers.profiles')}"
        )
        return 2
    heavy = sorted(name for name in ("trl", "datasets", "bitsandbytes") if name in sys.modules)
    info = versions()
    dev = device_info(device)
    print(
        f"GPU check ({'tiny sizes' if tiny else 'real profile sizes'}, {device}): python "
        f"{info['python']}, torch {info['torch']} (CUDA {info['cuda']}), transformers "
        f"{info['transformers']}, peft {info['peft']}"
    )
    print(
        f"Device: {dev.get('name')}"
        + (
            f", capability {dev['capability']}, {dev['total_memory_gb']} GB, native bf16 "
            f"{dev['native_bf16']}"
            if device == "cuda"
            else ""
        )
    )
    speed = card_speed(device, tiny)
    print(
        f"Card: matmul TFLOPS fp32 {speed.get('matmul_tflops_fp32')}, "
        f"fp16 {speed.get('matmul_tflops_fp16')}, "
        f"bf16 {speed.get('matmul_tflops_bf16')}; copy {speed.get('copy_bandwidth_gb_s')} GB/s"
    )
    ctx = Context(device, tiny, steps, mods, dev, speed, bool(dev.get("native_bf16", True)))
    results = {
        "schema": SCHEMA,
        "tool": "benchmarks/gpu_check.py",
        "argv": sys.argv[1:] if argv is None else argv,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": f"{'tiny' if tiny else 'full'}-{device}",
        "tiny": tiny,
        "steps": steps,
        "versions": info,
        "device": dev,
        "card": speed,
        "course": {
            "imported": sorted(mods),
            "import_errors": import_errors,
            "heavy_modules_loaded": heavy,
            "timing_constants": constants(mods.get("helpers.timing")),
            "memory_constants": constants(mods.get("helpers.memory.estimate")),
        },
        "notes": [
            OVERFLOW_NOTE,
            "Weights are random (real architectures from configs): memory and time are "
            "real, outputs not.",
            "estimate_course is what the course prints for the notebook "
            "(helpers.memory.fit's notebook_estimate); estimate_matched is "
            "helpers.memory.estimate called with exactly the shapes this check ran.",
            "Steps mirror the trainers' memory pattern in plain torch (TRL is not "
            "needed): the LM head is chunked like TRL 1.16's (4096 tokens x 32768 words) "
            "for 02, 04 and 06's DPO; 03 uses full logits like TRL 0.11.",
            "04 with load_in_4bit (QLoRA) needs bitsandbytes, absent here: its memory is "
            "not measured; the bf16 cast TRL applies to it is (qlora_cast_check).",
        ],
        "cases": [],
    }
    if tiny:
        results["notes"].append(
            "--tiny: tiny configs and sizes; every figure exercises the code path only, "
            "no ratio means anything."
        )
    if device == "cpu":
        results["notes"].append(
            "CPU: autocast runs in the profile's 16-bit dtype on the CPU; the fp16 GradScaler "
            "accepts bf16 gradients there, so defect 1's crash is shown as a dtype violation."
        )
    deadline = started + args.budget_s
    for profile in profile_names:
        for section in sections:
            record = run_case(ctx, profile, section, deadline, args.force)
            results["cases"].append(record)
            print(
                f"  {record['name']}: {record['status']}"
                + (f" ({record.get('wall_s')} s)" if "wall_s" in record else "")
                + (
                    f" -- {record.get('error') or record.get('reason')}"
                    if record["status"] != "ok"
                    else ""
                ),
                flush=True,
            )
    try:
        results["qlora_cast_check"] = qlora_cast_check(ctx)
    except Exception as error:  # noqa: BLE001
        results["qlora_cast_check"] = {
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=6),
        }
    results["course"]["heavy_modules_loaded"] = sorted(
        name for name in ("trl", "datasets", "bitsandbytes") if name in sys.modules
    )
    results["wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print()
    print(table(results))
    print()
    print(f"NOTE: {OVERFLOW_NOTE}")
    print(f"Wrote {out} ({results['wall_s']} s).")
    failed = [r["name"] for r in results["cases"] if r["status"] in ("error",)]
    return 1 if failed or "error" in results["qlora_cast_check"] else 0


if __name__ == "__main__":
    sys.exit(main())
