# crmbridge: see README.md. Targets: build, test, demo, bench, upstream (upstream-stop).
GO          ?= go
BIN         := bin/crmbridge
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
GOVULNCHECK ?= $(shell command -v govulncheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/govulncheck)
# govulncheck's vulnerability database: a URL or file:///path of an offline copy.
GOVULNDB    ?= https://vuln.go.dev
GOPST_DATA   = $(shell $(GO) list -m -f '{{.Dir}}' github.com/mooijtech/go-pst/v6)/data
DEMO_DB     ?= .tmp/demo/crm.db

.PHONY: man build test vet staticcheck govulncheck cross tidy demo bench clean upstream upstream-install upstream-start upstream-stop

# SAP CAP test server (upstream-cap/), a real OData v4 server for the push /
# pull integration tests. Test-time only. Its pid, URL and log go to .tmp/.
CAP_DIR   := upstream-cap
CAP_STATE := .tmp/cap
# Port: CAP_PORT if given, else 4004 when free, else any free loopback port.
CAP_PORT  ?=
NODE_FREE_PORT = node -e 'const n=require("net");const t=p=>{const s=n.createServer().once("error",()=>p?t(0):process.exit(1)).listen(p,"127.0.0.1",()=>{console.log(s.address().port);s.close()})};t(4004)'
NODE_HEALTH    = node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))'

# CGO_ENABLED=0: a static binary (DESIGN.md) that does not map the C
# library; its peak RSS is 1.4 MiB lower (status: 18.1 -> 16.7 MiB).
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/crmbridge

# The manual page, generated from the command definitions.
man: build
	$(BIN) man > crmbridge.1

vet:
	$(GO) vet ./...

staticcheck:
	@[ -x "$(STATICCHECK)" ] || { echo 'installing staticcheck'; $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2; }
	$(STATICCHECK) ./...

# govulncheck needs its vulnerability database; where that cannot be
# reached (no network and no offline copy in GOVULNDB) the step says so and
# is skipped rather than failed. Any other failure, a vulnerability found
# included, fails.
govulncheck:
	@[ -x "$(GOVULNCHECK)" ] || { echo 'installing govulncheck'; $(GO) install golang.org/x/vuln/cmd/govulncheck@v1.9.0; }
	@out="$$($(GOVULNCHECK) -db '$(GOVULNDB)' ./... 2>&1)"; rc=$$?; \
	if [ $$rc -ne 0 ] && printf '%s' "$$out" | grep -q 'fetching vulnerabilities'; then \
		echo "govulncheck: SKIPPED: the vulnerability database $(GOVULNDB) is unreachable ($$(printf '%s' "$$out" | tail -1))"; \
	else \
		printf '%s\n' "$$out"; exit $$rc; \
	fi

# crmbridge runs on Linux, macOS and FreeBSD (README): every package must
# type-check for each, so a Linux-only field or flag (Stat_t.Ctim,
# MAP_NORESERVE) fails here, not on a user's Mac. The first run compiles
# SQLite for each system (a few minutes); later runs come from the cache.
cross:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=freebsd GOARCH=amd64 $(GO) vet ./...

# go.mod and go.sum must be what go mod tidy makes them.
tidy:
	$(GO) mod tidy -diff

# The test command that README and .ci/run give. When node, npm and the
# CAP packages are there (.ci/run or make upstream installs them), a CAP
# server is started for the tests and stopped afterwards, even when they
# fail; otherwise the CAP integration tests skip. Tests that bound
# allocations (names ending in Allocs) skip under the race detector, whose
# sync.Pool drops objects at random, and run once more without it.
test: tidy vet staticcheck govulncheck cross
	test -z "$$(gofmt -l . | grep -v '^.tmp/')" || { gofmt -l . ; echo 'gofmt: files above need formatting'; exit 1; }
	@cap_url=""; started=""; \
	if [ -n "$$CRMBRIDGE_CAP_URL" ]; then \
		cap_url="$$CRMBRIDGE_CAP_URL"; echo "make test: CAP tests use CRMBRIDGE_CAP_URL=$$cap_url"; \
	elif command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && [ -d $(CAP_DIR)/node_modules/@sap/cds ]; then \
		if [ -f $(CAP_STATE).pid ] && kill -0 "$$(cat $(CAP_STATE).pid)" 2>/dev/null; then \
			echo "make test: using the CAP server already running (pid $$(cat $(CAP_STATE).pid))"; \
		else \
			$(MAKE) --no-print-directory upstream-start || exit 1; started=1; \
		fi; \
		cap_url="$$(cat $(CAP_STATE).url)"; \
	else \
		echo "make test: node, npm or $(CAP_DIR)/node_modules missing: the CAP integration tests will skip (make upstream installs and starts CAP)"; \
	fi; \
	trap 'if [ -n "$$started" ]; then $(MAKE) --no-print-directory upstream-stop; fi' EXIT; \
	CRMBRIDGE_CAP_URL="$$cap_url" $(GO) test -race -shuffle=on -timeout 60m ./... && \
	$(GO) test -count=1 -run 'Allocs$$' ./...

# Install the CAP packages if missing, start CAP on 127.0.0.1 and wait until
# it answers. Stop it with make upstream-stop.
upstream: upstream-install upstream-start

upstream-install:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { echo 'upstream: node and npm are needed (Node 20+)'; exit 1; }
	@[ -d $(CAP_DIR)/node_modules/@sap/cds ] || { echo 'upstream: npm ci in $(CAP_DIR)'; cd $(CAP_DIR) && npm ci --no-audit --no-fund; }

upstream-start:
	@mkdir -p .tmp
	@if [ -f $(CAP_STATE).pid ] && kill -0 "$$(cat $(CAP_STATE).pid)" 2>/dev/null; then \
		echo "CAP already running (pid $$(cat $(CAP_STATE).pid)) at $$(cat $(CAP_STATE).url)"; exit 0; \
	fi; \
	port="$(CAP_PORT)"; [ -n "$$port" ] || port="$$($(NODE_FREE_PORT))" || { echo 'upstream: no free port'; exit 1; }; \
	url="http://127.0.0.1:$$port/api/data/v9.2/"; \
	( cd $(CAP_DIR) && CAP_PORT=$$port exec node start.js ) > $(CAP_STATE).log 2>&1 & pid=$$!; \
	echo $$pid > $(CAP_STATE).pid; echo "$$url" > $(CAP_STATE).url; \
	for i in $$(seq 1 120); do \
		if $(NODE_HEALTH) "$$url"; then echo "CAP started (pid $$pid) at $$url"; exit 0; fi; \
		kill -0 $$pid 2>/dev/null || break; sleep 0.5; \
	done; \
	echo "upstream: CAP did not start; its log ($(CAP_STATE).log):"; cat $(CAP_STATE).log; \
	kill $$pid 2>/dev/null; rm -f $(CAP_STATE).pid $(CAP_STATE).url; exit 1

upstream-stop:
	@if [ -f $(CAP_STATE).pid ]; then \
		pid="$$(cat $(CAP_STATE).pid)"; kill "$$pid" 2>/dev/null && echo "CAP stopped (pid $$pid)"; \
		rm -f $(CAP_STATE).pid $(CAP_STATE).url; \
	fi

# Import go-pst's sample support.pst into a fresh store and show it.
demo: build
	$(GO) mod download github.com/mooijtech/go-pst/v6
	rm -rf $(dir $(DEMO_DB))
	mkdir -p -m 700 $(dir $(DEMO_DB))
	$(BIN) --db $(DEMO_DB) import $(GOPST_DATA)/support.pst
	$(BIN) --db $(DEMO_DB) status

# Benchmarks (about 5 minutes here): every figure of DESIGN.md's targets
# side by side with its anchor (readpst, gzip), whole processes under
# /usr/bin/time (bench/bench.sh; BENCH_FULL=1 adds the 1,000,000-record
# runs), then PST writing against readpst reading the result. The Go
# benchmarks (go test -bench) are run by hand: the 100k ones take minutes.
bench: build
	@start=$$(date +%s); bench/bench.sh && RUNS=3 bench/pstwrite.sh $(GOPST_DATA)/enron.pst && \
		echo "make bench took $$(( $$(date +%s) - start )) s (target: <= 300 s)"

clean:
	rm -rf bin .tmp
