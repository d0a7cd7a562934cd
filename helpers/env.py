"""Which TRL is installed, whether it is the stack a notebook needs, what machine this is, and
where a notebook's outputs go (``helpers.models`` says where each model comes from).

Imports nothing heavy at module level, so the first cell of a notebook can check its stack
before torch, transformers or TRL are loaded (and fail fast, with the command that fixes it).
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Optional

# The course's two stacks: what each one pins, and how to install it.
STACKS = {
    "legacy": {
        "requirements": "requirements-legacy-trl.txt",
        "kernel": "rlhf-legacy",
        "trl": "0.11.4",
        "what": "the classic PPO API: PPOTrainer.generate / .step and value-head models",
    },
    "modern": {
        "requirements": "requirements.txt",
        "kernel": "rlhf-modern",
        "trl": "1.16.0",
        "what": "today's TRL: SFTTrainer, GRPOTrainer, RLOOTrainer (no PPO)",
    },
}
TORCH_VERSION = "2.13.0"


class WrongStackError(RuntimeError):
    """The installed TRL is not the one this notebook was written for."""


def _version_tuple(version: str) -> tuple[int, int]:
    """'0.11.4' -> (0, 11); '1.16.0.dev0' -> (1, 16)."""
    parts = version.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def installed_version(package: str) -> Optional[str]:
    """The installed version of a distribution, or None. >>> installed_version("trl") -> '1.16.0'"""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def trl_api_family(trl_version: Optional[str] = None) -> dict:
    """What a TRL version offers, from the version alone.

    >>> trl_api_family("0.11.4")["ppo"]
    'classic'
    """
    trl_version = trl_version or installed_version("trl")
    if trl_version is None:
        return {"trl": None, "ppo": None, "grpo": False, "summary": "TRL is not installed"}
    v = _version_tuple(trl_version)
    if v < (0, 12):
        ppo, summary = (
            "classic",
            "classic PPO: PPOTrainer(config, model, ref_model, tokenizer), generate/step",
        )
    elif v < (0, 26):
        ppo, summary = (
            "rewritten",
            "rewritten PPO (0.12+): trainer.train() with a sequence-classifier reward model",
        )
    elif v < (1, 13):
        ppo, summary = "experimental", "PPO moved to trl.experimental.ppo (0.26+)"
    else:
        ppo, summary = None, "no PPO (removed in 1.13): use GRPO or RLOO"
    grpo = v >= (0, 14)
    return {"trl": trl_version, "ppo": ppo, "grpo": grpo, "summary": summary}


def detect_stack(trl_version: Optional[str] = None) -> Optional[str]:
    """'legacy' (classic PPO API), 'modern' (TRL 1.13 or later), or None for anything else.

    >>> detect_stack("0.11.4"), detect_stack("1.16.0"), detect_stack("0.20.0")
    ('legacy', 'modern', None)
    """
    trl_version = trl_version or installed_version("trl")
    if trl_version is None:
        return None
    v = _version_tuple(trl_version)
    if (0, 11) <= v < (0, 12):
        return "legacy"
    if v >= (1, 13):
        return "modern"
    return None


def install_command(stack: str) -> str:
    """The exact commands that install a stack into the current environment."""
    requirements = STACKS[stack]["requirements"]
    return (
        f"pip install torch=={TORCH_VERSION} && "
        f"pip install -r {requirements} -c constraints-torch.txt"
    )


def require_stack(stack: str) -> str:
    """Stop with the install command unless the installed TRL is `stack`'s. Returns the TRL version.

    >>> require_stack("modern")  # on the modern stack: '1.16.0'
    """
    if stack not in STACKS:
        raise ValueError(f"Unknown stack {stack!r}; the course has {sorted(STACKS)}.")
    family = trl_api_family()
    found = detect_stack()
    if found == stack:
        return family["trl"]
    info = STACKS[stack]
    installed = f"trl {family['trl']} ({family['summary']})" if family["trl"] else "no TRL at all"
    needs = (
        f"This notebook needs the {stack} stack: trl {info['trl']}, {info['what']}.\n"
        f"This kernel has {installed} (Python {platform.python_version()}, {sys.executable}).\n"
    )
    if "google.colab" in sys.modules:  # pip-installing torch there would replace Colab's CUDA build
        raise WrongStackError(
            needs + "Fix on Colab: Runtime > Disconnect and delete runtime, then run the setup "
            "cell at the top of this notebook again (it installs this notebook's stack)."
        )
    raise WrongStackError(
        needs
        + f"Fix: pick the Jupyter kernel '{info['kernel']}' if you ran `bash scripts/setup.sh`, "
        f"or install the stack into this environment from the course folder:\n"
        f"    {install_command(stack)}\n"
        f"then restart the kernel. On Colab, run the setup cell at the top of the notebook."
    )


def device_report() -> dict:
    """Python, torch, TRL and the accelerator this process sees.

    >>> device_report()["device"]  # 'cuda', 'mps' or 'cpu'
    """
    import torch

    report = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "transformers": installed_version("transformers"),
        "trl": installed_version("trl"),
        "stack": detect_stack(),
        "device": "cpu",
        "gpu_name": None,
        "gpu_memory_gb": None,
        "bf16_supported": False,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        report.update(
            device="cuda",
            gpu_name=props.name,
            gpu_memory_gb=round(props.total_memory / 1024**3, 1),
            bf16_supported=native_bf16(),
        )
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        report.update(device="mps", gpu_name="Apple GPU (MPS)")
    return report


def cpu_native_bf16() -> bool:
    """Does this CPU have bf16 instructions (AVX512-BF16 or AMX, read from /proc/cpuinfo on Linux)?
    Elsewhere, or without them, bf16 is emulated on a CPU and slower than fp32, so the answer is
    False."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def native_bf16() -> bool:
    """Does this GPU compute in bf16 natively (Ampere and later: A100, L4, RTX 30xx/40xx, H100)?

    ``torch.cuda.is_bf16_supported()`` also says True on a T4 or an RTX 2080 Ti, where bf16 is
    emulated and slow: it counts emulation unless told not to.
    """
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.3 has no including_emulation, and answers natively
        return torch.cuda.get_device_capability(0) >= (8, 0)


def half_dtype(precision: str = "bf16"):
    """The 16-bit dtype for frozen weights on this GPU: bf16 wherever it is native (an L4 or an A10G
    running the T4 profile too: no overflow at 65,504, no loss scaling), else fp16.

    >>> half_dtype("fp16")  # torch.bfloat16 on an A100 or an L4, torch.float16 on a T4
    """
    import torch

    return torch.bfloat16 if native_bf16() else torch.float16


def trainer_precision(precision: str, device: str) -> dict:
    """Precision flags for a transformers/TRL training config: fp16 or bf16 on a GPU, fp32 on CPU.

    >>> trainer_precision("fp16", "cpu")
    {'fp16': False, 'bf16': False, 'use_cpu': True}
    """
    import torch

    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be 'fp32', 'fp16' or 'bf16', not {precision!r}")
    if device != "cuda" or not torch.cuda.is_available():
        if precision != "fp32":
            print(
                f"No CUDA GPU: training in fp32 instead of {precision} (16-bit training "
                "needs a GPU)."
            )
        return {"fp16": False, "bf16": False, "use_cpu": True}
    if precision == "bf16" and not native_bf16():
        print("This GPU has no native bf16 (a T4, a 2080 Ti): training in fp16 instead.")
        precision = "fp16"
    elif precision == "fp16" and native_bf16():  # 'auto' gives a 24 GB L4 or A10G the T4 profile
        print(
            "This GPU computes bf16 natively: training in bf16 instead of fp16 (no "
            "overflow, no loss scaling)."
        )
        precision = "bf16"
    return {"fp16": precision == "fp16", "bf16": precision == "bf16", "use_cpu": False}


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch so that a run can be repeated."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def use_one_thread() -> None:
    """One CPU thread for tiny runs: on a shared 2-core machine two threads made steps 9-40x
    slower."""
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def headless() -> bool:
    """True when nobody is looking: the course runner, the tests and nbmake set ``RLHF_HEADLESS=1``.

    Interactive widgets are then drawn once, statically: papermill and nbclient can wait forever on
    a cell that displays ``ipywidgets.interactive`` (papermill#723, nbclient#312; seen once in our
    CI). Set it yourself when you execute the notebooks with papermill.
    """
    return os.environ.get("RLHF_HEADLESS", "0").lower() in ("1", "true", "yes")


def storage_root() -> Path:
    """Where notebooks keep what they hand to each other: $RLHF_STORAGE, else the current folder.

    On Colab ``start_notebook`` sets it to a folder on Google Drive, because each notebook there
    runs in its own runtime and ``/content`` dies with it.
    """
    return Path(os.environ.get("RLHF_STORAGE", ".")).expanduser()


COLAB_STORAGE = "/content/drive/MyDrive/rlhf-trl-course"


def keep_outputs_on_drive() -> None:
    """On Colab: mount Google Drive and keep the course's outputs there, so that the next notebook,
    in a runtime of its own, finds them. Declined (or no Drive): say what that loses."""
    try:
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ.setdefault("RLHF_STORAGE", COLAB_STORAGE)
    except Exception as error:  # declined, or no Drive: outputs stay in /content
        print(
            f"Google Drive is not mounted ({error}). Outputs go to /content and vanish with this "
            "runtime, so the next notebook cannot find them: run this cell again to mount Drive, "
            "or download the output folder."
        )


def start_notebook(stack: Optional[str] = None) -> float:
    """What each notebook's setup cell calls once the course is installed: on Colab, outputs on
    Google Drive; the kernel's stack checked (``require_stack``; 00, which runs on either, passes
    none). Returns the start time, for the wall time in metrics.json."""
    if "google.colab" in sys.modules:
        keep_outputs_on_drive()
    if stack:
        require_stack(stack)
    return time.time()


def halfway_save_steps(total_steps: int) -> int:
    """``save_steps`` that write one checkpoint, just past half-way, and none at the last step:
    enough to resume after a disconnect, once. On Google Drive each checkpoint deleted later (by
    rotation, or at the end) sits in Drive's Trash against the 15 GB free quota until the Trash is
    emptied."""
    return total_steps // 2 + 1


def skip_final_checkpoint():
    """A TrainerCallback (transformers: the modern stack) that skips the checkpoint transformers
    writes at the last step whatever ``save_steps`` says: the notebook saves the trained model
    itself, and on Drive the checkpoint would only go to the Trash."""
    from transformers import TrainerCallback

    class SkipFinalCheckpoint(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                control.should_save = False

    return SkipFinalCheckpoint()


def folder_gb(path: str | Path) -> float:
    """The size of everything under `path`, in GB (what a checkpoint or a saved model takes on
    Drive)."""
    files = [f for f in Path(path).rglob("*") if f.is_file()] if Path(path).exists() else []
    return sum(f.stat().st_size for f in files) / 1024**3


def course_path(path: str | Path) -> Path:
    """A notebook's input or output folder: a relative path lives under ``storage_root()``.

    >>> course_path("sft_gpt2")  # Path('sft_gpt2') locally; Google Drive's folder on Colab
    """
    path = Path(path).expanduser()
    return path if path.is_absolute() else storage_root() / path
