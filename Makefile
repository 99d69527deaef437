# cityscan: the two quickstart commands are `make demo` and `make test`; both set up what a fresh
# Debian/Ubuntu machine lacks (nmap, iproute2, openssl, a virtual environment, the package).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup check demo test bench record clean

# Debian packages: nmap (the scanner), iproute2 (the lab's namespaces), openssl (the lab's TLS
# certificates), tcpdump (live capture), chromium (the HTML report's browser test), postgresql (a
# real server the store tests start in a temporary directory; never run as a system service).
# gcc builds the compiled core of the flows reader at install (optional: without it, pure Python).
DEB_PACKAGES := nmap iproute2 openssl tcpdump chromium postgresql gcc

$(BIN)/cityscan: pyproject.toml scanner/collect/flows/_native_groups.c
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/cityscan

demo: setup
	$(SUDO) $(BIN)/cityscan demo

# The import rules (lint-imports: pyproject's [tool.importlinter]) and the type checker run first:
# a layer violation or a type error fails the build like a failing test.
check: setup
	cd $(CURDIR) && $(BIN)/lint-imports
	$(BIN)/mypy scanner

test: check
	$(SUDO) $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/pip install -q -e '.[test,bench]'
	$(SUDO) $(BIN)/python bench/live_scan.py
	$(BIN)/python bench/identify.py
	$(BIN)/python bench/nmap_import.py
	$(BIN)/python bench/flows.py
	$(SUDO) $(BIN)/python bench/stop_signal.py

# Re-record the lab's nmap XML (tests/data) and the replay used by `cityscan demo` without root.
record: setup
	$(SUDO) $(BIN)/python tests/data/record_lab.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
