#!/usr/bin/env bash
# make bench: runs every benchmark beside its reference in the same run,
# prints the tables and writes docs/BENCHMARKS.md.
# ATOLL_BENCH_CHUNKS (default 100000) sizes the knowledge-base open test;
# ATOLL_BENCH_1M=1 adds the 1M-vector search row (needs ~4 GB of memory).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/BENCHMARKS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
table() { go run ./internal/benchtable; }
export ATOLL_BENCH_CHUNKS=${ATOLL_BENCH_CHUNKS:-100000}

echo "== PDF extraction vs pdftotext"
go test -run '^$' -bench 'BenchmarkPDFExtract|BenchmarkPdftotext' -benchtime 5x -count 1 ./ingest/ | tee "$tmp/pdf.txt"
ATOLL_REQUIRE_PDFTOTEXT=1 go test -run 'TestPDFWordF1' -count 1 -v ./ingest/ | grep -E 'F1|ratio' | tee "$tmp/pdf-f1.txt" || true

echo "== PDF producers vs pdftotext (corpus generated with Debian packages)"
ATOLL_REQUIRE_PDFTOTEXT=1 go test -run '^$' -bench 'BenchmarkPDFProducers' -benchtime 5x -count 1 -timeout 20m ./ingest/ | tee "$tmp/producers.txt"

echo "== OCR character error rate (generated scans)"
go test -run '^$' -bench 'BenchmarkOCRCER' -benchtime 1x -count 1 -timeout 20m ./ingest/ | tee "$tmp/ocr.txt"

echo "== Wide CSV: peak memory, bounded reader vs encoding/csv (each in its own process)"
go test -run '^$' -bench 'BenchmarkWideCSV$' -benchtime 1x -count 1 ./ingest/ | tee "$tmp/csv.txt"
go test -run '^$' -bench 'BenchmarkWideCSVReference$' -benchtime 1x -count 1 ./ingest/ | tee -a "$tmp/csv.txt"

echo "== Writer lock"
go test -run '^$' -bench 'BenchmarkLock' -benchtime 2000x -count 1 ./store/ | tee "$tmp/lock.txt"

echo "== Retrieval: every evaluation set, Atoll vs plain BM25 on the same chunks"
go test -run '^$' -bench 'BenchmarkEval(Table|Chinese)' -benchtime 1x -count 1 -timeout 20m ./eval/ | tee "$tmp/evalsets.txt"

echo "== Reranker stage: its latency cost (scripted reranker; no real reranking model here)"
go test -run '^$' -bench 'BenchmarkSearchRerank' -benchtime 200x -count 1 ./knowledge/ | tee "$tmp/rerank.txt"

echo "== Vector search"
go test -run '^$' -bench 'BenchmarkVectorReport' -benchtime 1x -count 1 -timeout 30m ./rag/ | tee "$tmp/vec.txt"

echo "== Knowledge base open / add ($ATOLL_BENCH_CHUNKS chunks)"
go test -run '^$' -bench 'BenchmarkKB' -benchtime 3x -count 1 -timeout 30m ./store/ | tee "$tmp/store.txt"

echo "== Embedding and time to first token (real Ollama test server)"
go test -p 1 -run '^$' -bench 'BenchmarkEmbed|BenchmarkTTFT' -count 1 -timeout 20m ./llm/ ./agent/ | tee "$tmp/llm.txt"

echo "== Hub: 100 concurrent streamed chats (scripted model: 10 tokens, 20 ms apart)"
go test -run '^$' -bench 'BenchmarkHub100Streams' -benchtime 5x -count 1 ./hub/ | tee "$tmp/hub.txt"

echo "== Hub under 700 slow connections from one address (512 file descriptors)"
go test -run '^$' -bench 'BenchmarkHubSlowBodies' -benchtime 50x -count 1 ./hub/ | tee "$tmp/slow.txt"

echo "== Import of an amplification bundle (64 KB inflating to a 64 MiB entry)"
go test -run '^$' -bench 'BenchmarkImportAmplified' -benchtime 3x -count 1 ./publish/ | tee "$tmp/amplified.txt"

echo "== Hub state: database time per answer (turn + usage + rate counter)"
ATOLL_REQUIRE_PG=1 go test -run '^$' -bench 'BenchmarkAnswerWrites' -benchtime 2s -count 1 ./hubstore/embedded/ ./hubstore/postgres/ | tee "$tmp/answerwrites.txt"

echo "== Hub replicas: one direct, one and three behind haproxy, on PostgreSQL"
ATOLL_REQUIRE_PG=1 go test -run '^$' -bench 'BenchmarkReplicas' -benchtime 5x -count 1 -timeout 20m ./hub/ | tee "$tmp/replicas.txt"

echo "== Model-server pool: answers/s through one and two backends"
go test -run '^$' -bench 'BenchmarkPoolAnswers' -benchtime 2s -count 1 ./llm/ | tee "$tmp/pool.txt"

echo "== Channels: acknowledgement latency, 50 concurrent messages"
go test -run '^$' -bench 'BenchmarkChannelAck' -benchtime 20x -count 1 ./channels/ | tee "$tmp/channels.txt"

echo "== Web source: a 200-page site re-synced with nothing changed"
go test -run '^$' -bench 'BenchmarkResyncUnchanged200' -benchtime 10x -count 1 ./knowledge/ | tee "$tmp/resync.txt"

echo "== Ingestion throughput and retrieval quality (development corpus, no embeddings)"
corpus="$tmp/corpus"
if [ -x ../shared/eval/dev/corpus.sh ] || [ -f ../shared/eval/dev/corpus.sh ]; then
  bash ../shared/eval/dev/corpus.sh "$corpus" >/dev/null
  go build -o "$tmp/atoll" ./cmd/atoll
  bytes=$(du -sb "$corpus" | cut -f1)
  start=$(date +%s.%N)
  "$tmp/atoll" --data "$tmp/data" --ollama http://127.0.0.1:9 ingest --kb dev "$corpus" 2> "$tmp/ingest.txt" || true
  end=$(date +%s.%N)
  chunks=$("$tmp/atoll" --data "$tmp/data" kb list --json | grep -o '"chunks": [0-9]*' | grep -o '[0-9]*')
  awk -v b="$bytes" -v c="$chunks" -v s="$start" -v e="$end" 'BEGIN{t=e-s; printf "| corpus bytes | chunks | seconds | MB/s | chunks/s |\n|---|---|---|---|---|\n| %d | %d | %.3f | %.2f | %.0f |\n", b, c, t, b/t/1e6, c/t}' | tee "$tmp/throughput.md"
  "$tmp/atoll" --data "$tmp/data" --ollama http://127.0.0.1:9 eval --kb dev --questions ../shared/eval/dev/questions.jsonl --k 5 | tee "$tmp/eval.txt"
else
  echo "_(../shared/eval is absent on this machine)_" | tee "$tmp/throughput.md" "$tmp/eval.txt"
fi

echo "== Desktop window start-up and memory"
scripts/window-smoke.sh | tee "$tmp/window.txt"

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
  echo "Every target is measured beside its reference in the same run. \`ms/op\` is per operation (per query, per open, per file set)."
  echo
  echo "## PDF extraction (issue 3): ours vs poppler's pdftotext on the same files"
  table < "$tmp/pdf.txt"
  echo
  awk '/^BenchmarkPDFExtract\// {split($1,a,"/"); sub(/-[0-9]+$/,"",a[2]); ours[a[2]]=$3}
       /^BenchmarkPdftotext\// {split($1,a,"/"); sub(/-[0-9]+$/,"",a[2]); ref[a[2]]=$3}
       END {print "| file | ours ÷ pdftotext (target ≤ 2.0) |"; print "|---|---|";
            for (f in ours) if (f in ref) printf "| %s | %.2f |\n", f, ours[f]/ref[f]}' "$tmp/pdf.txt"
  echo
  [ -s "$tmp/pdf-f1.txt" ] && { echo '```'; cat "$tmp/pdf-f1.txt"; echo '```'; echo; }
  echo "## PDF producers (issue 12): ours vs pdftotext on a corpus made by the test"
  echo "\`x-pdftotext\`: our time ÷ pdftotext's on the same file (target ≤ 2; on one-page files mostly pdftotext's start-up); word F1 on whitespace tokens without NFKC; CJK F1 on raw characters."
  table < "$tmp/producers.txt"
  echo
  echo "## OCR (issue 12): character error rate on generated scans (1.2° rotation, noise, JPEG 75)"
  echo "Targets at 300 dpi: English ≤ 3%, Chinese ≤ 8%."
  table < "$tmp/ocr.txt"
  echo
  echo "## Memory on a very wide CSV (issue 20): 65 MB, 6 million columns, two rows"
  echo "\`peak-rss-MB\`: the process's high-water mark. WideCSV is Atoll's extraction (first 1000 columns kept); WideCSVReference reads the same rows with encoding/csv, as ingestion did before."
  table < "$tmp/csv.txt"
  echo
  echo "## The writer lock (issue 20): its cost per change"
  echo "acquire-release: one turn of the OS file lock; put: a one-chunk document stored durably (takes the lock once); follow-unchanged: a read's check that no other process wrote. A command takes the lock once per document stored and once per batch of vectors; reading commands never do."
  table < "$tmp/lock.txt"
  echo
  echo "## Retrieval on every evaluation set (issue 13): Atoll vs plain BM25 over the same chunks"
  awk '/^\| set \(Chinese/ {print ""} /^\|/ {print}' "$tmp/evalsets.txt" || true
  echo
  echo "## Reranker (issue 13): latency added by the optional stage, against a scripted /v1/rerank server"
  echo "Its quality cannot be measured here: no reranking model is obtainable on this machine."
  table < "$tmp/rerank.txt"
  echo
  echo "## Vector search (issue 4): ours vs chromem-go QueryEmbedding vs a plain float scan"
  sed -n '/<!-- vector-table -->/,/<!-- vector-table -->/p' "$tmp/vec.txt" | grep -v -e 'vector-table' -e '^Benchmark' -e '^goos' -e '^goarch' -e '^pkg' -e '^cpu' -e '^PASS' -e '^ok ' || true
  echo
  echo "## Opening a knowledge base and adding to it (issue 3), $ATOLL_BENCH_CHUNKS chunks × 768 dimensions"
  table < "$tmp/store.txt"
  echo
  echo "KBOpen/atoll: until the knowledge base is searchable (index restored from index.snap, records after it replayed; target ≤ 1 s); \`chromem-filled-ms\`: until chromem-go's in-memory collection, filled in the background, is complete (adding vectors waits for it). KBOpen/atoll-cold: the same after emptying the page cache (as after a reboot; needs root, else the row is missing), so the files come from this machine's disk. KBOpen/atoll-rebuild: with no usable snapshot (first open after Atoll 0.1, or a damaged one), the index is rebuilt; \`snapshot-write-ms\`: writing the snapshot afterwards. KBAdd1k: 1000 chunks with vectors into the opened base (target ≤ 1 s). \`disk-bytes/chunk\`: everything in the knowledge base's folder ÷ chunks."
  echo
  echo "## Embedding batched vs one text per request, and time to first token (real Ollama v0.6.5, tiny model, CPU)"
  table < "$tmp/llm.txt"
  echo
  awk '/^BenchmarkEmbedBatched/ {b=$3} /^BenchmarkEmbedOneByOne/ {o=$3} END {if (b) printf "Batched is %.2f× the speed of one text per request (Ollama 0.6.5 runs each text of a batch as its own sequence, so batching saves only the round trips).\n", o/b}' "$tmp/llm.txt"
  echo "EmbedParallel4: the same pair against a second server with OLLAMA_NUM_PARALLEL=4 (Ollama's default where memory allows; the test server runs 1): on this 2-core CPU, four sequences at once are slower per text, not faster, so the batched gain stays the round trips saved."
  echo "TTFTAtoll: \`ms-added\` is Atoll's own time (query embedding, retrieval, prompt assembly) over a direct /api/chat of the same prompt, in alternating rounds."
  echo
  echo "## Hub: 100 concurrent streamed chats (issue 7)"
  table < "$tmp/hub.txt"
  echo
  echo "## Hub under slow bodies (issue 20)"
  echo "Another address's request latency while 700 connections from one address trickle their bodies, the hub limited to 512 file descriptors (target: answered within a second)."
  table < "$tmp/slow.txt"
  echo
  echo "## Import memory on a 64 MiB entry (issue 20)"
  echo "A 64 KB bundle whose chunks.jsonl inflates to 64 MiB of blank lines, correct checksum. Before streaming: 1.7 GB RSS."
  table < "$tmp/amplified.txt"
  echo
  echo "## Hub state per answer (issue 14): embedded SQLite vs PostgreSQL"
  table < "$tmp/answerwrites.txt"
  echo
  echo "## Hub replicas behind haproxy (issue 14)"
  echo "100 streams at once, the scripted model streaming 8 tokens 5 ms apart; one replica direct, one and three behind haproxy, on one PostgreSQL."
  table < "$tmp/replicas.txt"
  echo
  echo "## Model-server pool (issue 14)"
  table < "$tmp/pool.txt"
  echo
  echo "## Channels (issue 15): acknowledgement under 50 concurrent messages"
  table < "$tmp/channels.txt"
  echo
  echo "## Web source refresh (issue 17): 200 pages, nothing changed"
  echo "Conditional requests only (ETag/Last-Modified); a 304 costs no extraction and no embedding. Politeness delay off in the benchmark (1 s per request per host by default)."
  table < "$tmp/resync.txt"
  echo
  echo "## Ingestion throughput, development corpus, without embeddings"
  cat "$tmp/throughput.md"
  echo
  echo "## Retrieval on the development set (lexical only: Ollama unreachable)"
  echo '```'
  cat "$tmp/eval.txt"
  echo '```'
  echo
  echo "## Desktop window under Xvfb"
  echo '```'
  cat "$tmp/window.txt"
  cat test-artifacts/window/metrics.json 2>/dev/null || true
  echo '```'
} > "$out"
echo "wrote $out"
