# Two commands on a fresh clone:  `make demo`  and  `make test`.
# Each creates .venv and installs what it needs; nothing has to be installed by hand: the operator
# (pyproject.toml) and its local kit (operator/kit: emulator, local Kubernetes API, demo).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench crds clean cluster image

$(STAMP): pyproject.toml operator/kit/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]' -e operator/kit
	touch $(STAMP)

## demo: ENS emulator + local Kubernetes API + operator, applies examples/, live table until Ready
demo: $(STAMP)
	$(BIN)/ens-image-operator demo $(ARGS)

## test: lint, type-check and the whole test suite (unit, conformance, sandbox, e2e, chart, faults)
test: lint
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --no-cache operator tests bench
	$(BIN)/ruff format --no-cache --check operator tests bench
	$(BIN)/mypy

## cluster: a real kube-apiserver + etcd on loopback (built once per version; ENS_K8S_VERSION=1.37.2 for another), prints a kubeconfig path, Ctrl-C stops it
cluster: $(STAMP)
	$(BIN)/python -m tests.cluster $(ARGS)

## image: build the operator image with docker when a daemon answers, else with buildah; prints its name
## (IMAGE=name:tag; PYTHON_IMAGE=another base; buildah in a container: BUILDAH_FLAGS="--isolation chroot --storage-driver vfs")
IMAGE ?= ens-image-operator:$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
image:
	@if docker info >/dev/null 2>&1; then \
	  docker build $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) -t $(IMAGE) . >&2; \
	elif command -v buildah >/dev/null 2>&1; then \
	  buildah bud $(BUILDAH_FLAGS) $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) -t $(IMAGE) . >&2; \
	else \
	  echo "make image: no docker daemon answers and buildah is not installed (apt-get install buildah)" >&2; \
	  exit 1; \
	fi
	@echo $(IMAGE)

## bench: the benchmarks of docs/performance.md (minutes; not part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

## crds: regenerate crds/ from the models and copy them into the chart and the kustomize base
crds: $(STAMP)
	$(BIN)/ens-image-operator crds --output-dir crds
	cp crds/*.yaml helm/ens-image-operator/crds/
	cp crds/*.yaml manifests/crds/

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
