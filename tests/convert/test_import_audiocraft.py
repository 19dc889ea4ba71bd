"""``vmb models import audiocraft``: a tiny checkpoint in audiocraft's export layout becomes a
transformers MusicGen folder that vmb's loader loads and that computes the same logits as the
original weights applied by hand; bad input is one line, exit 1, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from convert.original_layouts import audiocraft_lm_state, audiocraft_logits, write_audiocraft_export
from tiny.musicgen import tiny_musicgen_path  # noqa: F401  (fixture)
from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()
HEADS = 5


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory) -> Path:
    # width 40, 3 layers, 5 heads: not the base's geometry (32 wide, 2 layers, 4 heads), so the
    # converted decoder's shape must come from the checkpoint
    return write_audiocraft_export(tmp_path_factory.mktemp("audiocraft") / "my_finetune", heads=HEADS)


@pytest.fixture(scope="module")
def converted(export_folder, tiny_musicgen_path, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("converted") / "musicgen-hf"
    result = runner.invoke(app, ["models", "import", "audiocraft", str(export_folder), "--out", str(out),
                                 "--base", str(tiny_musicgen_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["out"] == str(out) and report["kind"] == "audiocraft"
    return out


def test_converted_decoder_gives_the_original_logits(converted, export_folder):
    from vmb.generate.musicgen.loading import load_checkpoint

    model, tokenizer, _, _ = load_checkpoint(str(converted))  # the production loader
    decoder = model.config.decoder
    assert (decoder.hidden_size, decoder.num_hidden_layers, decoder.num_attention_heads) == (40, 3, HEADS)
    original = torch.load(export_folder / "state_dict.bin", weights_only=True)["best_state"]
    text = tokenizer(["A calm ambient piece with soft piano"], return_tensors="pt")
    codes = torch.randint(0, 64, (1, 4, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        states = model.text_encoder(**text).last_hidden_state
        ours = model(**text, decoder_input_ids=codes.reshape(4, 12)).logits.reshape(1, 4, 12, 64)
        theirs = audiocraft_logits(original, codes, states, heads=HEADS)
    assert theirs.abs().max() > 1.0  # logits of real size, not a degenerate match of zeros
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)


def test_converted_folder_loads_as_a_generator(converted):
    from vmb.generate.musicgen import MusicGenGenerator

    generator = MusicGenGenerator.from_pretrained(converted, device="cpu")
    assert generator.sample_rate == 32000
    notes = json.loads((converted / "vmb_import.json").read_text())
    assert notes["geometry"]["num_layers"] == 3 and "facebook/encodec_32khz" in " ".join(notes["notes"])


def _import(tmp_path, source, base) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    result = runner.invoke(app, ["models", "import", "audiocraft", str(source), "--out", str(out), "--base", str(base)])
    return result.exit_code, result.output, out


def _write_state(folder: Path, state: dict, **kw) -> Path:
    return write_audiocraft_export(folder, state=state, heads=HEADS, **kw)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("text", "not a PyTorch checkpoint"),
        ("pickle_code", "Python objects other than weights"),
        ("truncated", "damaged or truncated"),
        ("wrong_layout", "not an audiocraft MusicGen checkpoint"),
        ("missing_key", "missing weight 'transformer.layers.1.linear2.weight'"),
        ("wrong_shape", "has shape (120, 40), expected (120, 40)"),
        ("melody", "MusicGen-Melody"),
        ("extra", "with no place in transformers' MusicGen"),
        ("no_folder_file", "no state_dict.bin"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, expected, tmp_path, tiny_musicgen_path):  # noqa: F811
    folder = tmp_path / "ckpt"
    folder.mkdir()
    lm = folder / "state_dict.bin"
    if case == "text":
        lm.write_text("hello, not weights\n")
    elif case == "pickle_code":
        import pickle

        lm.write_bytes(pickle.dumps({"best_state": Path("/etc/passwd")}))
    elif case == "truncated":
        _write_state(folder, audiocraft_lm_state())
        lm.write_bytes(lm.read_bytes()[:5000])
    elif case == "wrong_layout":
        torch.save({"model": {"encoder.weight": torch.zeros(2)}}, lm)
    elif case == "missing_key":
        state = audiocraft_lm_state()
        del state["transformer.layers.1.linear2.weight"]
        _write_state(folder, state)
    elif case == "wrong_shape":
        state = audiocraft_lm_state()
        state["transformer.layers.2.self_attn.in_proj_weight"] = torch.zeros(120, 39)
        expected = "has shape (120, 39), expected (120, 40)"
        _write_state(folder, state)
    elif case == "melody":
        state = audiocraft_lm_state()
        state["condition_provider.conditioners.self_wav.output_proj.weight"] = torch.zeros(40, 12)
        _write_state(folder, state)
    elif case == "extra":
        state = audiocraft_lm_state()
        state["transformer.layers.0.rogue.weight"] = torch.zeros(3)
        _write_state(folder, state)
    elif case == "no_folder_file":
        pass
    code, output, out = _import(tmp_path, folder, tiny_musicgen_path)
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary folder left


def test_an_existing_output_folder_is_never_replaced(export_folder, tiny_musicgen_path, tmp_path):  # noqa: F811
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    result = runner.invoke(app, ["models", "import", "audiocraft", str(export_folder), "--out", str(out),
                                 "--base", str(tiny_musicgen_path)])  # fmt: skip
    assert result.exit_code == 1 and "already exists" in result.output
    assert (out / "keep.txt").read_text() == "user data" and len(list(out.iterdir())) == 1


def test_heads_come_from_the_base_when_xp_cfg_is_absent(tmp_path, tiny_musicgen_path):  # noqa: F811
    # a raw LM state dict of the base's width (32) and no xp.cfg: the base's 4 heads are used
    folder = write_audiocraft_export(tmp_path / "raw", state=audiocraft_lm_state(dim=32, layers=2), heads=4,
                                     with_cfg=False)  # fmt: skip
    code, output, out = _import(tmp_path, folder / "state_dict.bin", tiny_musicgen_path)
    assert code == 0, output
    assert json.loads((out / "config.json").read_text())["decoder"]["num_attention_heads"] == 4
