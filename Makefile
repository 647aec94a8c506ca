# chainwarden developer entry points. `make demo` and `make test` set up
# everything they need (virtualenv from the hashed lock, Debian tools).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-12)
DEMO   := demo/out/image
DEMODB := demo/out/osv.sqlite3
# every locked dependency as a wheel (sdists built once), plus the build backend: the tests install
# chainwarden into clean virtualenvs (pip, pre-commit, the GitHub action) from here, never from the network
WHEELHOUSE  := $(VENV)/wheelhouse
WHEELSTAMP  := $(WHEELHOUSE)/.complete-$(shell cat requirements/lock.txt | sha256sum | cut -c1-12)
# the PyPA advisory database, when a copy lies beside the checkout
PYPA   := $(wildcard ../shared/data/pypa-advisory-database/vulns)

.PHONY: setup wheelhouse system-tools interop-tools demo test check pytest fuzz self-check lock sbom bench clean

setup: $(STAMP)

wheelhouse: $(WHEELSTAMP)

$(WHEELSTAMP): requirements/lock.txt | $(STAMP)
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(BIN)/python -m pip wheel --quiet --require-hashes --no-deps -w $(WHEELHOUSE) -r requirements/lock.txt
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(WHEELHOUSE) "setuptools>=68"
	touch $@

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

system-tools:
	sh tasks/install-system-tools.sh

demo: setup system-tools
	$(BIN)/python tasks/build_image.py --flavour demo --out $(DEMO) >/dev/null
	$(BIN)/chainwarden sbom oci:$(DEMO)
	$(BIN)/chainwarden db import --replace --db $(DEMODB) demo/advisories $(PYPA)
	$(BIN)/chainwarden scan oci:$(DEMO) --db $(DEMODB)

# third-party verifiers the interop tests run (pinned by tests/interop/package-lock.json);
# installed here, never by the tests, which stay offline
interop-tools:
	cd tests/interop && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

test: setup system-tools interop-tools check pytest self-check

check:
	$(BIN)/ruff check src tests bench tasks
	$(BIN)/ruff format --check src tests bench tasks
	$(BIN)/mypy

pytest: wheelhouse
	$(BIN)/pytest -q -p no:cacheprovider

# property tests with fresh random seeds, round after round (the test command runs them derandomised)
PROPERTY_TESTS := $(shell grep -rl '^from hypothesis' tests)
ROUNDS ?= 30
fuzz: setup
	for round in $$(seq $(ROUNDS)); do \
	  HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -p no:cacheprovider -x $(PROPERTY_TESTS) || exit 1; \
	done

# chainwarden practises what it preaches: it inventories, lints, vets and (when the PyPA
# advisory database lies beside the checkout) scans its own checkout, and keeps it clean.
self-check:
	$(BIN)/chainwarden sbom . --format json -o /dev/null
	$(BIN)/chainwarden lint . --fail-on low
	$(BIN)/chainwarden vet . --offline --fail-on medium
	@if [ -n "$(PYPA)" ]; then \
	  db=$$(mktemp -d)/osv.sqlite3 && \
	  $(BIN)/chainwarden db import --db $$db $(PYPA) >/dev/null && \
	  $(BIN)/chainwarden scan . --db $$db --fail-on medium; \
	else echo "self-check: no advisory database beside the checkout; scan skipped"; fi

# chainwarden's own SBOM (CycloneDX 1.6), from the hash-pinned lock it is installed from; the lock is
# staged alone as a project named chainwarden, so that is the SBOM's root component
SBOM_OUT ?= dist/chainwarden.cdx.json
sbom: setup
	@stage=$$(mktemp -d) && mkdir -p $$stage/chainwarden/requirements && \
	cp requirements/lock.txt $$stage/chainwarden/requirements/lock.txt && \
	out=$$(realpath -m $(SBOM_OUT)) && mkdir -p $$(dirname $$out) && \
	(cd $$stage && $(CURDIR)/$(BIN)/chainwarden sbom chainwarden -f cyclonedx -o $$out); \
	rc=$$?; rm -rf $$stage; [ $$rc -ne 0 ] || echo "wrote $(SBOM_OUT)"; exit $$rc

# uv resolves and hashes the lock; it lives in its own venv, outside the locked set
lock:
	test -x .venv-tools/bin/uv || ($(PYTHON) -m venv .venv-tools && .venv-tools/bin/pip install --quiet uv)
	.venv-tools/bin/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 -o requirements/lock.txt

clean:
	rm -rf $(VENV) demo/out .mypy_cache .ruff_cache
