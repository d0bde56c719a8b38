# Shian (食安) — build, demo, test.
#   make demo   builds everything and runs a simulated event against a local command service
#   make test   runs every test (browser tests need Debian's chromium; CI requires them)
#   make bench  measures ingest, growth, latency, the kiosk and the zone index; writes docs/BENCHMARKS.md
#   make powerloss  cuts the power of the command and the kiosks on LazyFS; nothing acked may be lost
#   make cluster-chaos  the chaos run on 3 command instances and PostgreSQL: kills, faults, database restarts

GO          ?= go
BIN         := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TOOLS       := $(CURDIR)/.cache/bin
DEMO_ADDR   ?= 127.0.0.1:8080
DEMO_DATA   ?= demo-data
DEMO_KIOSKS ?= 3
FUZZTIME    ?= 30s
TESTFLAGS   ?= -race -count=1 -timeout 30m
# A quick run (BENCH_QUICK=1, under a minute) writes beside the build
# outputs; only a full run replaces docs/BENCHMARKS.md.
BENCH_OUT   ?= $(if $(BENCH_QUICK),artifacts/BENCHMARKS-quick.md,docs/BENCHMARKS.md)
BENCH_FLAGS ?=
# Power-loss runs (make powerloss): POWERLOSS_CUTS power cuts in all, half
# of them the command's; POWERLOSS_CUTS=200 for a long run. LazyFS is built
# from third_party/lazyfs into LAZYFS_OUT (reused while its sources match).
POWERLOSS_CUTS  ?= 20
POWERLOSS_FLAGS ?=
LAZYFS_OUT      ?= $(CURDIR)/.cache/lazyfs
# The cluster chaos run (make cluster-chaos): CLUSTER_CHAOS_FLAGS are added
# to (and override) the bigger run's flags below.
CLUSTER_CHAOS_FLAGS ?=

BINARIES := shian-command shian-kiosk shian-sim
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/shianfood/shian/internal/version.Version=$(VERSION)
DIST     := dist

.PHONY: all build web demo cluster-demo cluster-chaos test lint fuzz cross bench dist clean powerloss

all: build

web:
	npm ci --no-audit --no-fund --loglevel=error
	node command/web/build.mjs

build: web
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-command ./command/cmd/shian-command
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-kiosk ./kiosk/cmd/shian-kiosk
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-sim ./simulator/cmd/shian-sim

demo: build
	$(BIN)/shian-sim demo --addr $(DEMO_ADDR) --kiosks $(DEMO_KIOSKS) --data $(DEMO_DATA)

# The demo on a cluster: PostgreSQL (initdb in a temp dir), two command
# instances, HAProxy in front; needs Debian's postgresql and haproxy packages.
cluster-demo: build
	$(BIN)/shian-sim cluster-demo --addr $(DEMO_ADDR) --kiosks $(DEMO_KIOSKS) --data cluster-demo-data

# Chaos across a cluster (issue 17, docs/decisions/0028-cluster-chaos.md):
# 3 command instances on a throwaway PostgreSQL, 4 kiosks failing over
# between them through fault proxies, SIGKILLs of kiosks and instances (the
# leader among them), PostgreSQL restarted 3 times. Needs Debian's
# postgresql package. The data stays in a new directory under /tmp (printed).
cluster-chaos: build
	$(BIN)/shian-sim chaos --data $$(mktemp -d /tmp/shian-cluster-chaos-XXXXXX)/run --cluster 3 --kiosks 4 \
	  --results 2000 --measure 40ms --kill-kiosk 60 --kill-command 40 --pg-restarts 3 --faults --fault-hold 1s $(CLUSTER_CHAOS_FLAGS)

test: web
	$(GO) test $(TESTFLAGS) ./...

lint:
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@test -x $(TOOLS)/staticcheck || GOBIN=$(TOOLS) GOFLAGS= $(GO) install $(STATICCHECK)
	$(TOOLS)/staticcheck ./...

# Run every fuzz target for FUZZTIME each (the seeds alone run in `make test`).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Release binaries, static (CGO_ENABLED=0), stamped with VERSION, into dist/
# with SHA256SUMS: the kiosk for every Raspberry Pi (arm64: Pi 3/4/5 and Zero 2
# on a 64-bit OS; armv7: Pi 2/3/4 on 32-bit; armv6: Pi 1 and Zero), the command
# for amd64 and arm64 servers. `sha256sum -c SHA256SUMS` checks a copy.
DIST_KIOSK   := linux/arm64 linux/arm/7 linux/arm/6 linux/amd64
DIST_COMMAND := linux/amd64 linux/arm64

dist: web
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(DIST_KIOSK); do \
	  os=$${t%%/*}; rest=$${t#*/}; arch=$${rest%%/*}; arm=; suf=$$arch; \
	  case $$rest in */*) arm=$${rest#*/}; suf=armv$$arm;; esac; \
	  echo "  shian-kiosk-$(VERSION)-$$os-$$suf"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
	    -o $(DIST)/shian-kiosk-$(VERSION)-$$os-$$suf ./kiosk/cmd/shian-kiosk; \
	done
	@set -e; for t in $(DIST_COMMAND); do \
	  os=$${t%%/*}; arch=$${t#*/}; \
	  echo "  shian-command-$(VERSION)-$$os-$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
	    -o $(DIST)/shian-command-$(VERSION)-$$os-$$arch ./command/cmd/shian-command; \
	done
	cp -r kiosk/deploy $(DIST)/kiosk-deploy
	cp -r command/deploy $(DIST)/command-deploy
	cd $(DIST) && sha256sum shian-* > SHA256SUMS && cat SHA256SUMS

# Benchmarks: every figure beside a baseline measured in the same run (see
# simulator/bench). BENCH_QUICK=1 runs smaller sizes in under a minute; its
# last two lines are ingest_per_s=N and ingest_ratio=R.
bench: build
	$(BIN)/shian-sim bench --out $(BENCH_OUT) $(BENCH_FLAGS)

# Power loss on LazyFS (docs/decisions/0014-power-loss-on-lazyfs.md): build
# LazyFS, check that a cut drops exactly the unsynced writes, then run the
# real binaries with every data directory on its own LazyFS and cut their
# power at random moments. Needs /dev/fuse, fusermount3 and LazyFS's build
# deps (cmake g++ libfuse3-dev fuse3 libspdlog-dev libtoml11-dev).
powerloss: build
	@lazyfs=$$(third_party/lazyfs/build.sh $(LAZYFS_OUT)) && echo "lazyfs: $$lazyfs" && \
	SHIAN_LAZYFS=$$lazyfs $(GO) test -count=1 -run '^TestCutDropsOnlyUnsynced$$' ./simulator/lazyfs/ && \
	$(BIN)/shian-sim powerloss --lazyfs $$lazyfs --cuts $(POWERLOSS_CUTS) $(POWERLOSS_FLAGS)

# Kiosk binaries for Raspberry Pi models, into bin/ (dist builds the release set).
cross:
	@mkdir -p $(BIN)
	GOOS=linux GOARCH=arm64 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-kiosk-linux-arm64 ./kiosk/cmd/shian-kiosk
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-kiosk-linux-armv7 ./kiosk/cmd/shian-kiosk
	GOOS=linux GOARCH=arm GOARM=6 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/shian-kiosk-linux-armv6 ./kiosk/cmd/shian-kiosk

clean:
	rm -rf $(BIN) $(DIST) command/web/static/lib artifacts
