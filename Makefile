# crmbridge: see README.md. Targets: build, test, demo, bench, upstream.
GO          ?= go
BIN         := bin/crmbridge
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
GOPST_DATA   = $(shell $(GO) list -m -f '{{.Dir}}' github.com/mooijtech/go-pst/v6)/data
DEMO_DB     ?= .tmp/demo/crm.db

.PHONY: build test vet staticcheck demo bench clean

build:
	$(GO) build -o $(BIN) ./cmd/crmbridge

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

# The test command that README and .ci/run give.
test: vet staticcheck
	test -z "$$(gofmt -l . | grep -v '^.tmp/')" || { gofmt -l . ; echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) test -race -shuffle=on -timeout 30m ./...

# Import go-pst's sample support.pst into a fresh store and show it.
demo: build
	$(GO) mod download github.com/mooijtech/go-pst/v6
	rm -rf $(dir $(DEMO_DB))
	$(BIN) --db $(DEMO_DB) import $(GOPST_DATA)/support.pst
	$(BIN) --db $(DEMO_DB) status

# Benchmarks: Go benchmarks, then whole-process crmbridge against readpst.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bench/compare.sh $(GOPST_DATA)/enron.pst

clean:
	rm -rf bin .tmp
