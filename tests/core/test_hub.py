"""vmb.hub: the one loader (folder → cache → hub), the offline policy, device and dtype."""

from __future__ import annotations

import pytest
import torch

from vmb import hub
from vmb.errors import ConfigError, ModelUnavailable


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_offline_accepts_the_usual_spellings(monkeypatch, value):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub.is_offline()


def test_device_and_dtype():
    assert hub.resolve_device("auto") in ("cpu", "cuda", "mps")
    assert hub.resolve_device("cpu") == "cpu"
    assert hub.resolve_dtype("auto", "cpu") is torch.float32
    assert hub.resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    with pytest.raises(ConfigError, match="'tpu'"):
        hub.resolve_device("tpu")
    with pytest.raises(ConfigError, match="'half'"):
        hub.resolve_dtype("half", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            hub.resolve_device("cuda")


def test_local_folder_then_errors_name_the_model(tmp_path, monkeypatch):
    from transformers import AutoConfig, BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8).save_pretrained(tmp_path / "m")
    config = hub.load_pretrained(AutoConfig.from_pretrained, tmp_path / "m")
    assert config.hidden_size == 8
    assert hub.is_available_locally(tmp_path / "m") and not hub.is_available_locally(tmp_path / "nope")
    with pytest.raises(ModelUnavailable, match="no such folder"):
        hub.load_pretrained(AutoConfig.from_pretrained, tmp_path / "nope", hint="use the built-in one")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match=r"no loadable model \(no config.json\)\); use --x"):
        hub.load_pretrained(AutoConfig.from_pretrained, tmp_path / "empty", hint="use --x")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelUnavailable, match="vmb-test/not-there: model weights not found .*HF_HUB_OFFLINE is set"):
        hub.load_pretrained(AutoConfig.from_pretrained, "vmb-test/not-there")


def test_unreachable_hub_is_checked_before_downloading(monkeypatch, tmp_path):
    from transformers import AutoConfig

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="the hub is unreachable"):
        hub.load_pretrained(AutoConfig.from_pretrained, "vmb-test/not-there")


def test_offline_argument_never_touches_the_network(monkeypatch, tmp_path):
    from transformers import AutoConfig

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "hub_reachable", lambda *a, **k: pytest.fail("the hub was asked"))
    with pytest.raises(ModelUnavailable, match=r"vmb-test/not-there: .*local files only\); get it"):
        hub.load_pretrained(AutoConfig.from_pretrained, "vmb-test/not-there", hint="get it", offline=True)


def test_a_file_is_not_a_model_folder(tmp_path):
    from transformers import AutoConfig

    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelUnavailable, match="is a file, not a model folder"):
        hub.load_pretrained(AutoConfig.from_pretrained, tmp_path / "weights.bin")


def _components():
    from vmb.describe.vlm import VLMDescriber
    from vmb.generate import MusicGenGenerator
    from vmb.retrieve.encoders.clap import ClapEncoder

    return {
        "--describer visual": VLMDescriber.from_pretrained,
        "--encoder builtin": ClapEncoder.from_pretrained,
        "--profile builtin": MusicGenGenerator.from_pretrained,
    }


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_every_component_follows_the_one_offline_policy(monkeypatch, tmp_path, value):
    """The describer, CLAP and MusicGen all read HF_HUB_OFFLINE the same way (once they did not:
    CLAP took only "1") and never ask the hub when it is set; each keeps its own hint."""
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    monkeypatch.setattr(hub, "hub_reachable", lambda *a, **k: pytest.fail("the hub was asked"))
    for hint, load in _components().items():
        with pytest.raises(ModelUnavailable) as caught:
            load("vmb-test/not-there", device="cpu")
        message = str(caught.value)
        assert message.startswith("vmb-test/not-there: model weights not found (not in the Hugging Face cache")
        assert "HF_HUB_OFFLINE is set" in message and hint in message, message


def test_every_component_resolves_its_device_through_the_hub(monkeypatch):
    class Resolved(Exception):
        pass

    def resolve(device="auto"):
        raise Resolved(device)

    monkeypatch.setattr(hub, "resolve_device", resolve)
    for load in _components().values():
        with pytest.raises(Resolved, match="auto"):
            load("vmb-test/not-there")
