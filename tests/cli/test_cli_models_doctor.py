"""``vmb models``, ``vmb models pull`` and ``vmb doctor``.

``pull`` is tested against a small Hugging Face-like HTTP server on 127.0.0.1 (``HF_ENDPOINT``)
that serves one repository: the real ``snapshot_download`` code path, into a temporary cache.
"""

from __future__ import annotations

import hashlib
import json
import threading
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()
SHA = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "config.json": b'{"model_type": "tiny"}',
    "model.safetensors": b"\x00" * 4096,
    "pytorch_model.bin": b"\x01" * 8192,  # the same weights in another format: not downloaded
}


class _FakeHub(BaseHTTPRequestHandler):
    """Enough of the hub API for ``snapshot_download`` of the repository ``acme/tiny``."""

    requests: typing.ClassVar[list[str]] = []

    def log_message(self, *args):  # quiet
        pass

    def _json(self, data, status=200):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urlparse(self.path).path
        type(self).requests.append(f"{self.command} {path}")
        siblings = [{"rfilename": name} for name in FILES]
        if path in ("/api/models/acme/tiny", "/api/models/acme/tiny/revision/main"):
            return self._json({"id": "acme/tiny", "sha": SHA, "siblings": siblings})
        if path.startswith("/api/models/acme/tiny/tree/"):
            return self._json([{"type": "file", "path": n, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                               for n, b in FILES.items()])  # fmt: skip
        prefix = f"/acme/tiny/resolve/{SHA}/"
        if path.startswith(("/acme/tiny/resolve/main/", prefix)):
            name = path.rsplit("/", 1)[-1]
            if name not in FILES:
                return self._not_found()
            body = FILES[name]
            self.send_response(200)
            self.send_header("X-Repo-Commit", SHA)
            self.send_header("ETag", f'"{hashlib.sha1(body).hexdigest()}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return None
        return self._not_found()


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeHub.requests = []
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    yield tmp_path / "hub"
    server.shutdown()
    server.server_close()


def test_pull_downloads_through_snapshot_download(fake_hub):
    result = runner.invoke(app, ["models", "pull", "acme/tiny", "--json"])
    assert result.exit_code == 0, result.output
    (pulled,) = json.loads(result.stdout)["models"]
    assert pulled["model"] == "acme/tiny" and pulled["downloaded"] is True
    snapshot = Path(pulled["path"])
    assert snapshot == fake_hub / "models--acme--tiny" / "snapshots" / SHA
    assert (snapshot / "config.json").read_bytes() == FILES["config.json"]
    assert (snapshot / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    assert not (snapshot / "pytorch_model.bin").exists()  # safetensors present: no second copy
    assert pulled["size_bytes"] == len(FILES["config.json"]) + len(FILES["model.safetensors"])
    assert not any("pytorch_model.bin" in r and r.startswith("GET") for r in _FakeHub.requests)

    # Now it is listed as present, with its size from the cache.
    from vmb.models import model_status

    status = model_status("acme/tiny")
    assert status.present and status.size_source == "cache"
    assert status.size_bytes == pulled["size_bytes"]
    assert status.location == str(fake_hub / "models--acme--tiny")

    again = runner.invoke(app, ["models", "pull", "acme/tiny", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["models"][0]["downloaded"] is False


def test_pull_unknown_repo_is_one_line(fake_hub):
    result = runner.invoke(app, ["models", "pull", "acme/nothing-here"])
    assert result.exit_code == 1
    assert result.output == (
        "error: acme/nothing-here: model weights not found (no such repository on the hub); "
        "check the id, or log in for a gated model\n"
    )
    assert not (fake_hub / "models--acme--nothing-here" / "snapshots").exists()


def test_pull_offline_and_unreachable(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["models", "pull", "acme/tiny"])
    assert result.exit_code == 1 and "HF_HUB_OFFLINE is set" in result.output
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    result = runner.invoke(app, ["models", "pull", "default"])
    assert result.exit_code == 1
    assert "unreachable" in result.output and "OpenGVLab/InternVL3-1B-hf" in result.output


def test_models_lists_each_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    folder = tmp_path / "my-musicgen"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x00" * 1000)
    result = runner.invoke(app, ["models", "--json", "--set", f"generator.model={folder}"])
    assert result.exit_code == 0, result.output
    rows = {(r["profile"], r["role"]): r for r in json.loads(result.stdout)["models"]}
    assert set(rows) == {("default", "describer"), ("default", "encoder"), ("default", "generator"),
                         ("builtin", "encoder")}  # fmt: skip
    describer = rows[("default", "describer")]
    assert describer["model"] == "OpenGVLab/InternVL3-1B-hf" and describer["present"] is False
    assert describer["size_source"] == "estimate" and describer["size_bytes"] > 10**9
    assert describer["location"] == str(tmp_path / "empty-cache" / "models--OpenGVLab--InternVL3-1B-hf")
    generator = rows[("default", "generator")]
    assert generator["present"] is True and generator["size_bytes"] == 1002
    assert generator["size_source"] == "folder" and generator["location"] == str(folder.resolve())
    minilm = rows[("builtin", "encoder")]
    assert minilm["present"] is True and minilm["size_bytes"] > 80_000_000
    assert Path(minilm["location"], "model.safetensors").is_file()

    text = runner.invoke(app, ["models", "--profile", "default"])
    assert text.exit_code == 0, text.output
    assert "default/describer: OpenGVLab/InternVL3-1B-hf  ~1.9 GB  missing" in text.output
    assert "builtin" not in text.output


def test_doctor_reports_what_is_missing_and_its_cost(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("VMB_SOUNDFONT", str(tmp_path / "missing.sf2"))
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert {"python", "torch", "gpu (CUDA/MPS)", "faiss", "faiss-gpu", "fluidsynth", "soundfont",
            "model default/generator", "model builtin/encoder", "demo library", "data home"} <= set(checks)  # fmt: skip
    assert checks["python"]["ok"] and report["ok"] is True
    soundfont = checks["soundfont"]
    assert soundfont["ok"] is False and "missing.sf2" in soundfont["found"]
    assert "numpy synthesiser" in soundfont["cost"] and soundfont["fix"]
    generator = checks["model default/generator"]
    assert generator["ok"] is False and "builtin profile instead" in generator["cost"]
    assert generator["fix"] == "vmb models pull facebook/musicgen-melody"
    assert checks["model builtin/encoder"]["ok"] is True
    for check in report["checks"]:
        assert check["ok"] or (check["cost"] and check["fix"]), check
    import torch

    assert checks["gpu (CUDA/MPS)"]["ok"] == (torch.cuda.is_available() or torch.backends.mps.is_available())

    text = runner.invoke(app, ["doctor"])
    assert text.exit_code == 0, text.output
    assert "soundfont: FluidSynth has no instruments" in text.output


def test_a_passing_check_carries_no_cost_or_fix():
    from vmb.doctor import Check

    passed = Check.outcome("fluidsynth", True, "/usr/bin/fluidsynth", "plainer sounds", "apt install fluidsynth")
    failed = Check.outcome("fluidsynth", False, "not on PATH", "plainer sounds", "apt install fluidsynth")
    assert (passed.cost, passed.fix) == ("", "")
    assert (failed.cost, failed.fix, failed.required) == ("plainer sounds", "apt install fluidsynth", False)
