#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS=N to change)
# with the nightly toolchain. Seeds come from tests/fixtures and conf/. A crash stops the script
# with the failing input under fuzz/artifacts/<target>/; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=(sse_decoder request_to_hub stream_decode recognise config_parse)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal

# Seeds: a protocol byte (0 OpenAI Chat, 1 Responses, 2 Anthropic, 3 Gemini) + each fixture.
seed() { # target, protocol byte, file
    local dir="fuzz/corpus/$1"; mkdir -p "$dir"
    { printf "\\x$(printf %02x "$2")"; cat "$3"; } > "$dir/$(basename "$(dirname "$3")")-$(basename "$3")"
}
rm -rf fuzz/corpus
for f in tests/fixtures/*/*.json; do
    case "$(basename "$(dirname "$f")")" in
        openai) p=0 ;; responses) p=1 ;; anthropic) p=2 ;; gemini) p=3 ;; *) p=0 ;;
    esac
    seed request_to_hub "$p" "$f"
    seed stream_decode "$p" "$f"
    seed sse_decoder 7 "$f"
done
mkdir -p fuzz/corpus/config_parse fuzz/corpus/recognise
cp conf/*.yaml fuzz/corpus/config_parse/
for p in "POST /v1/chat/completions" "POST /v1/responses" "POST /v1/messages" "GET /v1/models" \
         "POST /v1beta/models/gemini-2.0-flash:streamGenerateContent" "POST /v1/models/x:countTokens"; do
    printf '%s' "$p" > "fuzz/corpus/recognise/$(printf '%s' "$p" | tr -c 'a-zA-Z0-9' '_')"
done

for t in "${TARGETS[@]}"; do
    echo "== $t (${SECONDS_EACH}s)"
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0)
done
echo "fuzz: every target ran ${SECONDS_EACH}s clean"
