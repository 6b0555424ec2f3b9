# TickerHub: the two commands a new machine needs are `make run` and `make test`.
# Each installs what it needs first (scripts/bootstrap.sh), so a fresh clone needs nothing else.

SHELL := /bin/bash
SWIFT ?= swift
PYTEST_ARGS ?=
TSAN_BUILD := .build-tsan

.PHONY: help run build release lint format test unit-tests integration-tests tsan-tests fuzz bench bench-baseline bench-compare bench-smoke bench-e2e bench-e2e-smoke bench-cluster bench-under-attack bench-storm bench-write-cost soak wsload swarm clean

## List the targets and what each does.
help:
	@awk 'function show(name, text,   n, words, line, i) { \
	        n = split(text, words, " "); line = ""; \
	        for (i = 1; i <= n; i++) { \
	          if (length(line) + length(words[i]) > 80) { printf "  %-18s %s\n", name, line; name = ""; line = words[i] } \
	          else line = line (line == "" ? "" : " ") words[i] } \
	        printf "  %-18s %s\n", name, line } \
	      /^## / { doc = doc (doc == "" ? "" : " ") substr($$0, 4); next } \
	      /^# / { next } \
	      /^[a-z][a-z0-9-]*:/ { if (doc != "") { split($$0, target, ":"); show(target[1], doc) } } \
	      { doc = "" }' $(MAKEFILE_LIST)

## Start the hub with its embedded simulated market on http://127.0.0.1:8080 (Ctrl-C stops it).
run: release
	.build/release/tickerhub $(ARGS)

## Build the release binaries (tickerhub, feedsim) into .build/release.
release:
	@scripts/bootstrap.sh run
	$(SWIFT) build -c release

## Build the debug binaries into .build/debug.
build:
	@scripts/bootstrap.sh run
	$(SWIFT) build

# Every Swift file of the repository: the hub's package, the benchmarks and their peers, the fuzzers.
SWIFT_SOURCES := Sources Tests Benchmarks/Benchmarks Benchmarks/peers Fuzz/Sources Package.swift Benchmarks/Package.swift Fuzz/Package.swift

## Check every Swift file against .swift-format (line length 120, as SwiftNIO): CI fails on any finding.
lint:
	$(SWIFT) format lint --strict --recursive --parallel $(SWIFT_SOURCES)

## Reformat every Swift file in place with .swift-format (what `make lint` then accepts).
format:
	$(SWIFT) format format --in-place --recursive --parallel $(SWIFT_SOURCES)

## Everything CI runs: unit tests, the lock-free code under ThreadSanitizer, and the
## integration tests with real processes and third-party clients.
test: unit-tests tsan-tests integration-tests

## The Swift unit tests (swift test, debug build).
unit-tests:
	@scripts/bootstrap.sh test
	$(SWIFT) build
	$(SWIFT) test

## The ring, the index and the fan-out consumer under ThreadSanitizer, in a build of the engine alone
## (TICKERHUB_ENGINE_ONLY: see the end of Package.swift).
# swift-testing can print "passed" even when TSan reported a race, so the exit code and the log are
# both checked.
tsan-tests:
	@scripts/bootstrap.sh run
	@mkdir -p $(TSAN_BUILD)
	TICKERHUB_ENGINE_ONLY=1 $(SWIFT) test --sanitize=thread --scratch-path $(TSAN_BUILD) --filter "FanoutEngineTests|EpollTransportTests" 2>&1 | tee $(TSAN_BUILD)/tsan-tests.log; \
	  status=$${PIPESTATUS[0]}; \
	  if grep -q "ThreadSanitizer" $(TSAN_BUILD)/tsan-tests.log; then echo "ThreadSanitizer reported a problem"; exit 1; fi; \
	  exit $$status

## The integration tests (pytest) against the release binaries, with real third-party clients, and
## the client libraries' own tests (clients/python in pytest; clients/js in Node, run from pytest).
## Hubs run on their default transport (owned); the subscriber tests and Autobahn's core sections
## run again on NIO.
# Release, which is what `make run` and the benchmarks use (and Autobahn's compression sections
# take a quarter of the time a debug build needs).
integration-tests: release
	@scripts/bootstrap.sh test
	.venv/bin/python -m pytest -q clients/python/tests
	TICKERHUB_BIN_DIR=$(CURDIR)/.build/release .venv/bin/python -m pytest -q IntegrationTests $(PYTEST_ARGS)
	@echo "== the subscriber tests and Autobahn's core sections again on NIO (--transport nio; TLS and NATS hubs use it anyway)"
	HUB_TEST_TRANSPORT=nio TICKERHUB_BIN_DIR=$(CURDIR)/.build/release .venv/bin/python -m pytest -q \
	  IntegrationTests/test_protocol.py IntegrationTests/test_slow_consumers.py IntegrationTests/test_hostile_inputs.py \
	  "IntegrationTests/test_conformance.py::test_autobahn_core_sections"

FUZZ_SECONDS ?= 60
FUZZ_BUILD := .build-fuzz
FUZZ_TARGETS := ClientMessage TickBatch FanoutState TokenClaims
## Coverage-guided fuzzing (libFuzzer with AddressSanitizer) of the parsers of untrusted input, each
## for FUZZ_SECONDS, starting from the seeds in Fuzz/Corpus; what they find is kept in .build-fuzz.
fuzz:
	@scripts/bootstrap.sh run
	set -o pipefail; cd Fuzz && TICKERHUB_ENGINE_ONLY=1 $(SWIFT) build --scratch-path ../$(FUZZ_BUILD) \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld 2>&1 | sed "/Cannot export local symbol/d"
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$target $(FUZZ_BUILD)/findings; \
	  echo "== fuzzing $$target for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/debug/Fuzz$$target -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/findings/$$target- $(FUZZ_BUILD)/corpus/$$target Fuzz/Corpus/$$target \
	    2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|panic|Fatal|precondition" ; \
	  status=$${PIPESTATUS[0]}; [ $$status -eq 0 ] || { echo "fuzzing $$target failed ($$status); the input is in $(FUZZ_BUILD)/findings"; exit 1; }; \
	done

## Microbenchmarks (package-benchmark, release build); see Benchmarks/README.md.
bench:
	@scripts/bootstrap.sh run
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark --no-progress

## Record the microbenchmarks as the committed baseline (Benchmarks/.benchmarkBaselines/main).
bench-baseline:
	@scripts/bootstrap.sh run
	cd Benchmarks && $(SWIFT) package --disable-sandbox --allow-writing-to-package-directory benchmark baseline update main --no-progress

## Run the microbenchmarks and compare them with the committed baseline.
bench-compare:
	@scripts/bootstrap.sh run
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark baseline compare main --no-progress

## CI: every microbenchmark for a few iterations, so none can rot. Timings are not checked. (Release:
## debug benchmark builds crash on Swift 6.3's runtime hooks, ordo-one/benchmark#349.)
bench-smoke:
	@scripts/bootstrap.sh run
	cd Benchmarks && TICKERHUB_BENCH_SMOKE=1 $(SWIFT) package --disable-sandbox benchmark --no-progress

## The neutral load generator of the end-to-end benchmark (C, one thread, epoll): .build/wsload.
wsload: .build/wsload
WSLOAD_SOURCES := $(wildcard Benchmarks/loadgen/*.c)
.build/wsload: $(WSLOAD_SOURCES) $(wildcard Benchmarks/loadgen/*.h)
	@mkdir -p .build
	$(CC) -D_GNU_SOURCE -O2 -Wall -Wextra -o $@ $(WSLOAD_SOURCES) -lm

## The floor of the end-to-end benchmark (C, one thread, epoll, one send per delivery): .build/floor-hub.
FLOOR_SOURCES := Benchmarks/peers/floor-hub/floor.c Benchmarks/peers/floor-hub/sha1.c
.build/floor-hub: $(FLOOR_SOURCES) Benchmarks/peers/floor-hub/sha1.h
	@mkdir -p .build
	$(CC) -O2 -Wall -Wextra -o $@ $(FLOOR_SOURCES)

## What one write of a ready frame costs at the floor, by system call (write, send, io_uring), on
## 1,000 and 5,000 loopback connections (needs liburing-dev).
bench-write-cost:
	@dpkg -s liburing-dev >/dev/null 2>&1 || apt-get install -y liburing-dev
	@mkdir -p .build
	$(CC) -O2 -Wall -Wextra -o .build/write-cost Benchmarks/peers/floor-hub/write_cost.c -luring
	.build/write-cost 1000 5000

## The end-to-end benchmark against the peers; ARGS=--quick for a run of a few minutes.
bench-e2e: release wsload
	@scripts/bootstrap.sh bench
	.venv/bin/python Benchmarks/e2e/run.py $(ARGS)

## CI: the harness's quick run into a scratch folder, so it cannot rot, and the admission rule: it
## fails if TickerHub does not admit all 3,000 clients of its quick load (timings are not checked).
## TickerHub on both transports and the floor (its yardstick, built here): the other peers add minutes to every commit
## and no coverage of this repository's code; `make bench-e2e` runs them all, side by side.
bench-e2e-smoke: release wsload
	@scripts/bootstrap.sh bench
	.venv/bin/python Benchmarks/e2e/run.py --quick --servers tickerhub,tickerhub-nio,floor \
	  --out $$(mktemp -d /tmp/tickerhub-e2e-smoke.XXXXXX)

## A hub's memory under every attack of IntegrationTests/attacker.py at once for 60 s, against a
## quiet twin (Benchmarks/e2e/under_attack.py; SECURITY.md has the figures).
bench-under-attack: release
	@scripts/bootstrap.sh test
	.venv/bin/python Benchmarks/e2e/under_attack.py --duration 60

## A reconnect storm (Benchmarks/e2e/storm.py): 15,000 clients at once against TickerHub, Node ws and
## Go gorilla in turn: every one upgraded, none closed, time to admit all, probe p99 to 101.
bench-storm: release wsload
	@scripts/bootstrap.sh test
	.venv/bin/python Benchmarks/e2e/storm.py --clients 15000

## A 30-minute soak at the busy load (Benchmarks/e2e/soak.py): 1,000 steady clients at 5,000 ticks/s
## plus 2,000 churned every ~15 s; a table per minute; fails on growth after warm-up or a client not admitted.
soak: release wsload
	@scripts/bootstrap.sh test
	.venv/bin/python Benchmarks/e2e/soak.py --minutes 30

## Hubs fed through NATS (Benchmarks/e2e/cluster.py): the NATS feed against the embedded one at the
## same load, then 45,000 connections over three hubs fed by a 3-node nats-server cluster.
bench-cluster: release
	@scripts/bootstrap.sh test
	.venv/bin/python Benchmarks/e2e/cluster.py feed
	.venv/bin/python Benchmarks/e2e/cluster.py connections

## Example load run against a hub started with `make run`.
swarm: release
	.build/release/feedsim swarm --clients 5000 --subscribe 10 --duration 20

## Remove the builds and the Python venv.
clean:
	rm -rf .build $(TSAN_BUILD) $(FUZZ_BUILD) .venv
