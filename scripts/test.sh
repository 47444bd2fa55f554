#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the
# whole test suite (C unit tests, the PipeWire integration test, the browser
# end-to-end tests of timings), then all of it again in a sanitizer build
# (ASan, LSan, UBSan) with the other browser tests, then every fuzzer for a
# bounded time. Prints one summary line at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh test
bash scripts/build.sh
# GNOME Mutter and KDE KWin for the shared-desktop tests come from Debian
# 13, in a root of their own, made once and kept
# (/var/cache/funkhaus/trixie-desktops).
if [ "$(id -u)" -eq 0 ]; then
  FUNKHAUS_TRIXIE_ROOT=$(bash scripts/trixie-root.sh)
  export FUNKHAUS_TRIXIE_ROOT
fi

if [ ! -f build-fuzz/build.ninja ]; then
  echo "funkhaus: configuring build-fuzz/ (clang, libFuzzer, ASan, UBSan)" >&2
  CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false >&2
fi
ninja -C build-fuzz >&2

if [ ! -f build-asan/build.ninja ]; then
  echo "funkhaus: configuring build-asan/ (gcc, ASan, UBSan)" >&2
  meson setup build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false >&2
fi
ninja -C build-asan >&2

status=0
# The browser tests run once each: those whose figures are timings (and
# the soak test's full counts) here, the rest under the sanitizers below.
echo "funkhaus: running the tests in build/ (the browser tests of timings only)" >&2
meson test -C build --print-errorlogs --no-suite package --no-suite e2e || status=1
# The Debian package from a clean clone: build, apt install, check, purge
# (a few minutes; skipped unless root).
echo "funkhaus: building, installing and removing the Debian package" >&2
meson test -C build --print-errorlogs --suite package --logbase testlog-package || status=1
echo "funkhaus: running the whole suite again in build-asan/ (ASan, UBSan; LSan where it works)" >&2
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OPTIONS=detect_leaks=1 meson test -C build-asan --print-errorlogs \
  --suite unit --suite integration || status=1
# LeakSanitizer cannot stop the host's threads when the host runs under the
# browser tests ("does not work under ptrace"): memory errors only there.
# Every browser test but the timing ones (tests/meson.build). The soak
# test's full counts ran in build/ above; under ASan (about 3 times
# slower) it checks memory errors over fewer rounds, and not the resident
# memory, which ASan's quarantine of freed memory inflates.
ASAN_OPTIONS=detect_leaks=0 FUNKHAUS_SOAK_REQUESTS=500 FUNKHAUS_SOAK_CYCLES=20 \
  FUNKHAUS_SOAK_NO_RSS="ASan keeps freed memory in its quarantine" \
  meson test -C build-asan --print-errorlogs --suite e2e \
  --logbase testlog-e2e || status=1
echo "funkhaus: running the fuzzers in build-fuzz/" >&2
meson test -C build-fuzz --print-errorlogs || status=1

# One line for the whole run, counted from both test logs.
python3 - build/meson-logs/testlog.json build/meson-logs/testlog-package.json \
  build-asan/meson-logs/testlog.json \
  build-asan/meson-logs/testlog-e2e.json build-fuzz/meson-logs/testlog.json <<'PY'
import json, re, sys
passed = failed = skipped = 0
browser = []
failures = []
for path in sys.argv[1:]:
    for line in open(path):
        entry = json.loads(line)
        result = entry["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
        if "browser-e2e" in entry["name"]:
            # One meson test holds all the browser tests: count them too,
            # and say why any was skipped.
            out = entry.get("stdout") or ""
            count = lambda what: int((re.findall(rf"^# {what} (\d+)$", out, re.M) or ["0"])[-1])
            reasons = sorted(set(re.findall(r"# SKIP (.*)$", out, re.M)))
            browser.append((path.split("/")[0], count("pass"), count("fail"), count("skipped"), reasons))
        if result not in ("OK", "EXPECTEDFAIL", "SKIP"):
            # Name what failed here, at the end, where a CI log's tail shows it.
            out = entry.get("stdout") or ""
            lines = out.splitlines()
            failures.append(f"{path.split('/')[0]}/ {entry['name']}: {result}")
            # A GLib test that aborts says why in a "Bail out!" or ERROR line.
            failures.extend("    " + l.strip() for l in lines
                            if l.startswith("Bail out!") or "ERROR:" in l)
            for i, line in enumerate(lines):
                if line.startswith("not ok"):
                    failures.append("    " + line)
                    for detail in lines[i + 1:i + 12]:
                        if not detail.strip():
                            continue
                        if detail.strip().startswith(("error:", "AssertionError", "Error")) or \
                           (detail.startswith("    ") and not detail.strip().startswith(("---", "duration_ms", "location", "failureType", "[", "..."))):
                            failures.append("      " + detail.strip())
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
for build, p, f, s, reasons in browser:
    print(f"  browser tests in {build}/: {p} passed, {f} failed, {s} skipped")
    for reason in reasons:
        print(f"    skipped: {reason}")
if failures:
    print("failed:")
    print("\n".join(failures[:60]))
PY
exit $status
