"""benchmarks/gpu_check.py: its whole code path at tiny sizes on a CPU, in the GPU machine's
environment (torch, transformers and peft; no TRL, datasets or bitsandbytes; the working tree
only)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.py"
PROFILES = ("t4-16gb", "rtx2080ti-11gb", "a100-40gb")
SECTIONS = ("sft", "ppo_sft", "grpo", "reward_model", "dpo")
ABSENT_ON_THE_GPU_MACHINE = ("trl", "datasets", "bitsandbytes")


def without_packages(python, folder):
    """A folder of links to every entry of ``python``'s site-packages except TRL, datasets and
    bitsandbytes (and their metadata): with ``python -S`` and PYTHONPATH on it, they are not
    installed."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder.mkdir()
    for entry in os.scandir(site):
        package = entry.name.split("-")[0].split(".")[0].lower()
        if package not in ABSENT_ON_THE_GPU_MACHINE:
            (folder / entry.name).symlink_to(entry.path)
    return folder


@pytest.fixture(scope="module")
def check(modern_python, tmp_path_factory):
    """One --tiny run on the CPU, in a copy of the modern stack without TRL, datasets and
    bitsandbytes."""
    tmp = tmp_path_factory.mktemp("gpu_check")
    packages = without_packages(modern_python, tmp / "site")
    out = tmp / "gpu_check.json"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(packages),
        "CUDA_VISIBLE_DEVICES": "",
    }
    result = subprocess.run(
        [str(modern_python), "-S", str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out)],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text()), result.stdout


def test_it_runs_without_trl_datasets_or_bitsandbytes_and_prints_its_versions(check):
    results, stdout = check
    versions = results["versions"]
    assert all(versions[name] for name in ("python", "torch", "transformers", "peft"))
    assert versions["not_needed_but_installed"] == {
        name: None for name in ABSENT_ON_THE_GPU_MACHINE
    }
    assert results["course"]["heavy_modules_loaded"] == []
    for name in (
        "helpers.profiles",
        "helpers.memory.estimate",
        "helpers.memory.fit",
        "helpers.timing",
    ):
        assert name in results["course"]["imported"], results["course"]["import_errors"]
    assert (
        f"torch {versions['torch']}" in stdout
        and f"transformers {versions['transformers']}" in stdout
    )
    assert results["mode"] == "tiny-cpu" and results["device"]["type"] == "cpu"
    assert results["wall_s"] < 120


def test_the_json_holds_every_section(check):
    results, _ = check
    for key in (
        "schema",
        "versions",
        "device",
        "card",
        "course",
        "notes",
        "cases",
        "qlora_cast_check",
        "wall_s",
    ):
        assert key in results
    assert results["card"]["matmul_tflops_fp32"] > 0 and results["card"]["copy_bandwidth_gb_s"] > 0
    assert results["course"]["timing_constants"] and results["course"]["memory_constants"]
    cases = {(case["profile"], case["section"]): case for case in results["cases"]}
    assert set(cases) == {(p, s) for p in PROFILES for s in SECTIONS}
    for (profile, section), case in cases.items():
        assert case["status"] == "ok", (profile, section, case.get("error"), case.get("traceback"))
        assert case["settings"] and case["setup"] and case["model"]["parameters"] > 0
        assert case["memory"]["measured_peak_gb"] > 0
        assert case["time"]["fwd_bwd_s_mean"] > 0 and case["time"]["optimizer_s_mean"] > 0
        assert case["time"]["tokens_per_micro_batch"] > 0 and case["time"]["predicted_fwd_bwd_s"]
        assert case["contract"]["ok"], case["contract"]
        if (
            section != "reward_model"
        ):  # 06's reward model generates nothing; DPO's case times 06's pair generation
            decode = case["decode"]
            assert decode["tokens_per_s"] > 0 and decode["ms_per_layer_per_decode_step"] > 0
            assert decode["predicted_s"] and decode["measured_over_predicted"]


def test_each_measurement_sits_next_to_the_course_estimate_and_a_matched_one(check):
    results, _ = check
    for case in results["cases"]:
        for key in ("estimate_course", "estimate_matched"):
            estimate = case[key]
            assert estimate["gb"] > 0 and estimate["phase"] and estimate["parts_gb"], (
                case["name"],
                estimate,
            )
            assert estimate["estimate_over_measured"] > 0
        assert case["estimate_matched"]["call"]["batch_size"] == case["setup"].get(
            "per_device_train_batch_size",
            case["setup"].get(
                "mini_batch_size",
                case["setup"].get("sequences_per_batch", case["setup"].get("batch_size")),
            ),
        )


def test_the_precision_contracts_hold_where_the_course_plans_them(check):
    cases = {(c["profile"], c["section"]): c for c in check[0]["cases"]}
    t4_grpo = cases["t4-16gb", "grpo"]
    assert (
        t4_grpo["setup"]["trained"].startswith("LoRA") and t4_grpo["setup"]["weights"] == "float16"
    )
    assert t4_grpo["contract"]["amp"] == "fp16" and set(t4_grpo["contract"]["trainable"]) == {
        "float32"
    }
    assert t4_grpo["contract"]["frozen_in_model"] == {
        "float16": t4_grpo["contract"]["frozen_in_model"]["float16"]
    }
    ppo = cases["a100-40gb", "ppo_sft"]["contract"]
    assert ppo["frozen_models"]["reference"]["found"].keys() == {"bfloat16"}


def test_defect_1_the_qlora_cast_is_found_and_the_fix_shown(check):
    q = check[0]["qlora_cast_check"]
    assert "error" not in q, q.get("traceback")
    assert set(q["trainable_after_get_peft_model"]) == {
        "float32"
    }  # peft upcasts LoRA adapters itself
    assert set(q["trainable_after_trl_qlora_cast"]) == {"bfloat16"}
    broken = q["contract_after_cast"]
    assert (
        not broken["ok"] and broken["violation_count"] > 0 and "bfloat16" in broken["violations"][0]
    )
    # On a CPU the scaler accepts bf16 gradients: no crash, and the record says so
    assert q["crash_expected_here"] is False and q["crash_reproduced"] is False
    assert q["step_with_cast"]["ok"] and "CPU" in q["note"]
    assert q["fix"]["parameters_moved"] == broken["violation_count"]
    assert set(q["fix"]["trainable_after_fix"]) == {"float32"} and q["contract_after_fix"]["ok"]
    assert q["step_after_fix"]["ok"] and q["fix_works"]
    assert set(q["step_after_fix"]["gradient_dtypes"]) == {"float32"}
    audit = q["course_audit_after_cast"]
    if audit.get("available"):  # helpers.precision, where it exists, stops on the same violation
        assert audit["raised"] and "bfloat16" in audit["raised"]
        assert q["course_audit_after_fix"]["raised"] is None


def test_it_says_random_weights_cannot_show_the_fp16_overflow(check):
    results, stdout = check
    assert any("cannot show" in note and "fp16 overflow" in note for note in results["notes"])
    assert "cannot show Qwen2's fp16 overflow" in stdout


def load_script(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_chunked_lm_head_matches_log_softmax_in_value_and_gradient(monkeypatch):
    gpu_check = load_script(monkeypatch)
    monkeypatch.setattr(gpu_check, "CHUNK_TOKENS", 5)  # several token and vocabulary tiles
    monkeypatch.setattr(gpu_check, "CHUNK_WORDS", 7)
    torch.manual_seed(0)
    hidden = torch.randn(12, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(20, 6, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 20, (12,))
    chunked = gpu_check.ChunkedLogProb.apply(hidden.float(), weight.float(), targets, torch.float32)
    full = torch.log_softmax(hidden @ weight.T, dim=-1).gather(1, targets[:, None]).squeeze(1)
    assert torch.allclose(chunked.double(), full, atol=1e-5)
    grad = torch.randn(12, dtype=torch.float64)
    h, w = hidden.detach().float().requires_grad_(), weight.detach().float().requires_grad_()
    gpu_check.ChunkedLogProb.apply(h, w, targets, torch.float32).backward(grad.float())
    full.backward(grad)
    assert torch.allclose(h.grad.double(), hidden.grad, atol=1e-4)
    assert torch.allclose(w.grad.double(), weight.grad, atol=1e-4)


def test_bad_arguments_are_refused_with_the_valid_choices(modern_python):
    result = subprocess.run(
        [str(modern_python), str(SCRIPT), "--profiles", "h100-80gb"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 2 and "t4-16gb" in result.stderr
