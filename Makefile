# linkd: the two commands a newcomer needs are `make run` and `make test`.
# Everything else here is a convenience around CMake.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
LINKD_ARGS ?=
IMAGE      ?= localhost/linkd:latest
BASE_IMAGE ?= localhost/linkd-base:bookworm

.PHONY: all deps build run test unit api format clean fuzz image up down

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/linkd serve $(LINKD_ARGS)

# Installs test dependencies, builds with ASan+UBSan, runs every test.
test:
	@scripts/install-deps.sh test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLNK_SANITIZER=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# The container image (deploy/Containerfile, docs/deploy.md), built with podman.
# The default BASE_IMAGE is bootstrapped here from the apt mirror when missing
# (scripts/container-base.sh); BASE_IMAGE=docker.io/library/debian:12-slim
# pulls it instead.
image:
	@scripts/install-deps.sh image
	@LINKD_BASE_IMAGE=$(BASE_IMAGE) LINKD_BASE_CACHE=$(BUILD)/container-base \
		scripts/container-image.sh $(IMAGE)

# The whole stack (deploy/compose/compose.yaml, docs/deploy.md#compose): three
# nodes, PostgreSQL, Redis, nginx, Prometheus, Alertmanager, Grafana, with
# podman-compose. COMPOSE_IMAGES=local builds the third-party images from
# Debian packages instead of pulling the official ones (no Grafana then).
# `make down` keeps the volumes; `make down VOLUMES=1` removes them too.
COMPOSE_IMAGES ?= official
VOLUMES        ?=

up:
	@LINKD_IMAGE=$(IMAGE) LINKD_BASE_IMAGE=$(BASE_IMAGE) LINKD_COMPOSE_IMAGES=$(COMPOSE_IMAGES) \
		scripts/compose.sh up

down:
	@scripts/compose.sh down $(if $(filter 1 yes,$(VOLUMES)),--volumes)

# libFuzzer: builds tests/fuzz/<target>/fuzz_<target>.c with clang and
# ASan+UBSan in $(FUZZ_BUILD), then fuzzes each of FUZZ_TARGETS for
# FUZZ_SECONDS. New inputs go to $(FUZZ_BUILD)/corpus/<target>, crashes to
# $(FUZZ_BUILD)/artifacts/<target>/; the committed corpus is only read.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%/,%,$(sort $(dir $(wildcard tests/fuzz/*/fuzz_*.c))))
FUZZ_ARGS    ?=

fuzz:
	@scripts/install-deps.sh fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=$(FUZZ_CC) -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link" -DLNK_SANITIZER=ON -DLNK_WERROR=OFF \
		-DLNK_FUZZ_LIBFUZZER=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
		dict=; [ ! -f tests/fuzz/$$t/$$t.dict ] || dict=-dict=tests/fuzz/$$t/$$t.dict; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s" >&2; \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./$(FUZZ_BUILD)/tests/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $(FUZZ_ARGS) \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/$$t/corpus; \
	done

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
