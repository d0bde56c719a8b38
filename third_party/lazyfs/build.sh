#!/usr/bin/env bash
# Builds LazyFS from this copy into OUT (default .cache/lazyfs at the repository's root) and
# prints the binary's path. The sources are copied there first, so the repository stays clean
# (LazyFS's CMake files expect their build directories inside the source tree). A build whose
# sources have not changed is reused.
#   third_party/lazyfs/build.sh [OUT]   → OUT/src/lazyfs/build/lazyfs
# Needs Debian's cmake g++ libfuse3-dev fuse3 libspdlog-dev libtoml11-dev (.ci/run installs them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../../.cache/lazyfs}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/src/lazyfs/build/lazyfs
SUM=$(cd "$HERE" && find lazyfs libs -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
if [ -x "$BIN" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$SUM" ]; then
  echo "$BIN"
  exit 0
fi
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "lazyfs: $tool is missing; apt-get install cmake g++ libfuse3-dev fuse3 libspdlog-dev libtoml11-dev" >&2; exit 1; }
done
rm -rf "$OUT/src" && mkdir -p "$OUT/src"
cp -r "$HERE/lazyfs" "$HERE/libs" "$OUT/src/"
LOG=$OUT/build.log
: > "$LOG"
if ! { (cd "$OUT/src/libs/libpcache" && mkdir -p build && cd build && cmake -DCMAKE_BUILD_TYPE=Release .. && cmake --build . -j2) &&
       (cd "$OUT/src/lazyfs" && mkdir -p build && cd build && cmake -DCMAKE_BUILD_TYPE=Release -DLAZYFS_BUILD_TESTS=OFF .. && cmake --build . -j2); } >>"$LOG" 2>&1; then
  tail -30 "$LOG" >&2
  echo "lazyfs: build failed; the whole log is $LOG" >&2
  exit 1
fi
test -x "$BIN"
echo "$SUM" > "$OUT/stamp"
echo "$BIN"
