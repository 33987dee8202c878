#!/usr/bin/env bash
# The project lint (STYLE.md rule 42): banned functions, raw allocation outside shared/src/mem.c,
# and // comments. Prints each finding as file:line and exits 1 if there is any.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Tracked and new (untracked, not ignored) sources that exist in the working tree.
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' |
    while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done | sort -u)
status=0

report() {
    local what=$1
    shift
    local hits
    hits=$(grep -nE "$@" || true)
    if [ -n "$hits" ]; then
        echo "lint: $what:"
        echo "$hits" | sed 's/^/  /'
        status=1
    fi
}

report "banned function (use the checked helpers)" \
    '\b(strcpy|strcat|sprintf|vsprintf|gets|sscanf|strtok|atoi|atol|strtol|strtoul)\s*\(' "${files[@]}"
mapfile -t nonmem < <(printf '%s\n' "${files[@]}" | grep -v '^shared/src/mem\.c$')
report "raw allocation or copy outside shared/src/mem.c (use shd_alloc, shd_memcpy, ...)" \
    '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free|memcpy|memcmp)\s*\(' "${nonmem[@]}"
report "// comment (use /* */)" '^\s*//|[;{}]\s*//' "${files[@]}"
if [ "$status" -eq 0 ]; then
    echo "lint: ${#files[@]} files clean"
fi
exit "$status"
