#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the
# whole test suite (C unit tests, the browser end-to-end tests, the fuzzers
# for a bounded time). Prints one summary line at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh test
bash scripts/build.sh

if [ ! -f build-fuzz/build.ninja ]; then
  echo "funkhaus: configuring build-fuzz/ (clang, libFuzzer, ASan, UBSan)" >&2
  CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false >&2
fi
ninja -C build-fuzz >&2

status=0
echo "funkhaus: running the tests in build/" >&2
meson test -C build --print-errorlogs || status=1
echo "funkhaus: running the fuzzers in build-fuzz/" >&2
meson test -C build-fuzz --print-errorlogs || status=1

# One line for the whole run, counted from both test logs.
python3 - build/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
