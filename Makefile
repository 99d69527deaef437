# cityscan: the two quickstart commands are `make demo` and `make test`; both set up what a fresh
# Debian/Ubuntu machine lacks (nmap, iproute2, openssl, a virtual environment, the package).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test bench record clean

$(BIN)/cityscan: pyproject.toml
	@command -v nmap >/dev/null && command -v ip >/dev/null && command -v openssl >/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nmap iproute2 openssl >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/cityscan

demo: setup
	$(SUDO) $(BIN)/cityscan demo

test: setup
	$(SUDO) $(BIN)/python -m pytest -q

bench: setup
	$(SUDO) $(BIN)/python bench/live_scan.py
	$(BIN)/python bench/identify.py

# Re-record the lab's nmap XML (tests/data) and the replay used by `cityscan demo` without root.
record: setup
	$(SUDO) $(BIN)/python tests/data/record_lab.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
