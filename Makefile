# One command each: `make demo` sets up and runs the main job, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all bench system-deps clean

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU build on local disk; anything else may pull a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,eval,ui,ray,decord]"
	@touch $@

# FluidSynth + the General MIDI soundfont for the built-in renderer (optional: without them vmb
# renders with its numpy synthesiser and says so); chromium + chromium-driver for the web app's
# browser tests (tests/ui, marker browser).
system-deps:
	@if command -v fluidsynth >/dev/null 2>&1 && [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  echo "fluidsynth, the GM soundfont and chromium (browser tests) are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm chromium chromium-driver >/dev/null; \
	else \
	  echo "note: fluidsynth not installed (sudo apt-get install fluidsynth fluid-soundfont-gm); vmb will use its numpy synthesiser"; \
	fi

# The main job on the example clip: builds the demo index on first use, then writes
# examples/clip.vmb.wav, examples/clip.vmb.mp4 and examples/clip.vmb.json.
demo: setup system-deps
	@[ -f examples/clip.mp4 ] || $(BIN)/python examples/make_example_clip.py examples/clip.mp4
	$(BIN)/vmb generate --video examples/clip.mp4 --seed 1

test: setup system-deps
	$(BIN)/python -m pytest -m "not slow" -q

test-all: setup system-deps
	$(BIN)/python -m pytest -q

bench: setup system-deps
	for b in benchmarks/bench_*.py; do $(BIN)/python -m benchmarks.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
