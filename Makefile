# Thin wrappers: every target sets up what it needs (virtualenv, project, Kafka jars).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.riverbed-installed
PYTEST_ARGS ?=

.PHONY: help setup kafka-jars toxiproxy browser demo test test-all test-kind lint format typecheck clean

help:
	@echo "make demo   run the main job on the local platform (real Kafka on 127.0.0.1)"
	@echo "make test   lint and type check, then the default test suite (everything but slow tests)"
	@echo "make test-all  also the slow tests"
	@echo "make kind-images  build and cache kind's images without a registry (riverbed kind prepare --offline)"
	@echo "make test-kind  the kind tests, on a cluster from those images"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[harness,test]'
	touch $(STAMP)

setup: $(STAMP)

kafka-jars: setup
	$(BIN)/riverbed kafka resolve

# The Toxiproxy server for network faults: built once with Go, cached (riverbed/toxiproxy.py).
toxiproxy: setup
	$(BIN)/python -m riverbed.toxiproxy

browser:
	bash scripts/ensure-chromium.sh

demo: kafka-jars
	$(BIN)/riverbed demo

lint: setup
	$(BIN)/ruff check .

# The instrumentation (workloads/instrument/pythonpath) is not in yet: its client patches
# need typing work of their own.
typecheck: setup
	$(BIN)/mypy riverbed workloads locustfiles reports benchmarks tests/support

test: lint typecheck kafka-jars toxiproxy browser
	bash scripts/pytest.sh -m "not slow and not kind" $(PYTEST_ARGS)

test-all: lint typecheck kafka-jars toxiproxy browser
	bash scripts/pytest.sh -m "not kind" $(PYTEST_ARGS)

# The kind tests: a real cluster from the offline images (needs Docker; on a fresh CI
# machine scripts/ci/kind-host.sh installs what is missing). 12–42 min the first time (docs/kubernetes.md).
test-kind: kafka-jars kind-images
	bash scripts/pytest.sh -m "kind and not slow" tests/kind $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# ---- Kubernetes tutorial targets ------------------------------------------------------------
# The tutorial's steps against manifests/ on a kind cluster, one target each:
#   make kind-up build-images load-images deploy-kafka deploy-apps   # then: make delete-all kind-down
# `riverbed up --platform kind` does the same in one command, with a unique image tag.
#
# Without a container registry, build the images first and pass them on:
#   make kind-images
#   make kind-up build-images load-images deploy-kafka deploy-apps $$(.venv/bin/riverbed kind images --make)
# (`riverbed kind images --make` prints OFFLINE=1 KIND=… KUBECTL=… KIND_NODE_IMAGE=… KAFKA_IMAGE=…
# PYTHON_IMAGE=…). The defaults below are the public images.
KIND ?= kind
KUBECTL ?= kubectl
DOCKER ?= docker
KIND_CLUSTER ?= riverbed
KIND_CONFIG ?= manifests/kind-cluster.yaml
# kind's default node image when empty.
KIND_NODE_IMAGE ?=
KAFKA_IMAGE ?= apache/kafka:4.4.0
PYTHON_IMAGE ?= python:3.11-slim
# 1: images come from `riverbed kind prepare --offline`; build-images then builds through
# `riverbed kind build-images` and load-images also loads KAFKA_IMAGE into the node.
OFFLINE ?=
KUBE_CONTEXT ?= kind-$(KIND_CLUSTER)
IMAGE_TAG ?= dev
WORKLOADS_IMAGE := riverbed-workloads:$(IMAGE_TAG)
LOCUST_IMAGE := riverbed-locust:$(IMAGE_TAG)
KUBE := $(KUBECTL) --context $(KUBE_CONTEXT)
TOPIC_PARTITIONS ?= 3
KAFKA_TOPICS := $(KUBE) -n riverbed exec kafka-0 -- /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092
# The kind overlay's files (manifests/overlays/kind: the base, the Namespace, the NodePorts).
BASE := manifests/base
KIND_OVERLAY := manifests/overlays/kind

.PHONY: kind-images kind-up kind-down build-images load-images deploy-kafka create-topics deploy-apps deploy-locust delete-all

kind-images: setup
	$(BIN)/riverbed kind prepare --offline
	@echo "use them with: make … $$($(BIN)/riverbed kind images --make)"

# The cluster is created from KIND_CONFIG as this host needs it (`riverbed kind config` says
# what it changes: containerd's restrict_oom_score_adj where containers lack CAP_SYS_RESOURCE).
KIND_HOST_CONFIG := $(VENV)/kind-cluster.$(KIND_CLUSTER).yaml

kind-up: setup
	$(KIND) get clusters | grep -qx '$(KIND_CLUSTER)' || { \
	  $(BIN)/riverbed kind config --kind-config $(KIND_CONFIG)$(if $(KIND_NODE_IMAGE), --image $(KIND_NODE_IMAGE)) > $(KIND_HOST_CONFIG) && \
	  $(KIND) create cluster --name $(KIND_CLUSTER) --config $(KIND_HOST_CONFIG)$(if $(KIND_NODE_IMAGE), --image $(KIND_NODE_IMAGE)) --wait 180s; }

kind-down:
	$(KIND) delete cluster --name $(KIND_CLUSTER)

ifeq ($(OFFLINE),1)
build-images: setup
	$(BIN)/riverbed kind build-images --tag $(IMAGE_TAG) --python-image $(PYTHON_IMAGE)
else
build-images:
	DOCKER_BUILDKIT=1 $(DOCKER) build -f workloads/Dockerfile --target workloads --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(WORKLOADS_IMAGE) .
	DOCKER_BUILDKIT=1 $(DOCKER) build -f workloads/Dockerfile --target locust --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(LOCUST_IMAGE) .
endif

load-images:
	$(KIND) load docker-image $(strip $(WORKLOADS_IMAGE) $(LOCUST_IMAGE) $(if $(filter 1,$(OFFLINE)),$(KAFKA_IMAGE))) --name $(KIND_CLUSTER)

# A Kafka already deployed keeps its cluster id (its brokers' volumes are formatted for it,
# and `riverbed up` gives each deployment an id of its own): read back, then applied again.
KAFKA_CLUSTER_ID_NOW := $(KUBE) -n riverbed get statefulset kafka --ignore-not-found -o jsonpath='{.spec.template.spec.containers[?(@.name=="kafka")].env[?(@.name=="CLUSTER_ID")].value}'

deploy-kafka:
	$(KUBE) apply -f $(KIND_OVERLAY)/namespace.yaml -f $(BASE)/chaos-rbac.yaml -f $(BASE)/network-policy.yaml -f $(KIND_OVERLAY)/node-ports.yaml -f $(KIND_OVERLAY)/node-ports-policy.yaml
	id=$$($(KAFKA_CLUSTER_ID_NOW)) && \
	sed -e 's|image: apache/kafka:4.4.0|image: $(KAFKA_IMAGE)|' \
	  $${id:+-e "/name: CLUSTER_ID\$$/{n;s|value: .*|value: \"$$id\"|;}"} $(BASE)/kafka.yaml | $(KUBE) apply -f -
	$(KUBE) -n riverbed rollout status statefulset/kafka --timeout=600s
	$(MAKE) create-topics

create-topics:
	$(KAFKA_TOPICS) --create --if-not-exists --topic riverbed-events --partitions $(TOPIC_PARTITIONS) --replication-factor 3 --config min.insync.replicas=2
	$(KAFKA_TOPICS) --create --if-not-exists --topic riverbed-evidence --partitions 3 --replication-factor 3 --config min.insync.replicas=2

deploy-apps:
	sed 's|image: riverbed-workloads:dev|image: $(WORKLOADS_IMAGE)|' $(BASE)/workloads.yaml | $(KUBE) apply -f -
	$(KUBE) -n riverbed rollout status deployment/producer --timeout=300s
	$(KUBE) -n riverbed rollout status deployment/consumer --timeout=300s
	$(KUBE) -n riverbed rollout status deployment/monitor --timeout=300s

deploy-locust:
	sed 's|image: riverbed-locust:dev|image: $(LOCUST_IMAGE)|' manifests/components/locust/locust.yaml | $(KUBE) apply -f -
	$(KUBE) -n riverbed rollout status deployment/locust-master --timeout=300s
	$(KUBE) -n riverbed rollout status deployment/locust-worker --timeout=300s

delete-all:
	$(KUBE) delete --ignore-not-found -f manifests/components/locust/locust.yaml -f $(BASE)/workloads.yaml -f $(BASE)/network-policy.yaml -f $(BASE)/chaos-rbac.yaml -f $(BASE)/kafka.yaml -f $(KIND_OVERLAY)/node-ports.yaml -f $(KIND_OVERLAY)/node-ports-policy.yaml -f $(KIND_OVERLAY)/namespace.yaml
