#!/usr/bin/env bash
# package-deb.sh - the Debian packages, built and used as a user would.
#
#  1. configure build/deb as a Release build for the /usr prefix (libraries in the
#     multiarch directory), build it, and run `cpack -G DEB`;
#  2. check the file split: libzheap<MAJOR> holds exactly the shared library (the SONAME
#     link and the file it names) and the license; libzheap-dev holds the headers, the
#     static library, the libzheap.so link, the CMake package and the .pc files, and
#     depends on exactly that libzheap<MAJOR>;
#  3. unpack both into a scratch root with dpkg-deb -x (nothing is installed on the
#     machine) and build the consumer (tests/package/consumer) against it with
#     find_package and with pkg-config (zheap.pc and zheap-static.pc), and run it:
#     shared builds load the root's libzheap.so, static builds need no libzheap.so.
#   .ci/package-deb.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/deb
jobs=${ZHEAP_JOBS:-2}
fail() { echo "package-deb: $*" >&2; exit 1; }

# ---- 1. build the packages ------------------------------------------------------------
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
      -DZHEAP_BUILD_TESTS=OFF -DZHEAP_BUILD_BENCH=OFF -DZHEAP_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; fail "cpack failed"; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
version=$(cache CMAKE_PROJECT_VERSION)
major=${version%%.*}
libdir=usr/$(cache CMAKE_INSTALL_LIBDIR)
arch=$(dpkg --print-architecture)
runtime_pkg=libzheap$major
runtime="$build/${runtime_pkg}_${version}_${arch}.deb"
dev="$build/libzheap-dev_${version}_${arch}.deb"
[[ -f $runtime && -f $dev ]] || fail "cpack did not make $runtime and $dev: $(ls "$build"/*.deb)"
echo "package-deb: built $(basename "$runtime") and $(basename "$dev") (libdir /$libdir)"

# ---- 2. the file split ----------------------------------------------------------------
# Files and links of a package, without directories, as paths relative to /.
contents() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | sort; }

# The runtime package also carries the LD_PRELOAD library where it is built (Linux/glibc).
preload=()
[[ -f $build/libzheap-malloc.so ]] && preload=("$libdir/libzheap-malloc.so")
expected_runtime=$(printf '%s\n' "$libdir/libzheap.so.$major" "$libdir/libzheap.so.$version" \
                   "${preload[@]}" usr/share/doc/zheap/LICENSE | sort)
actual_runtime=$(contents "$runtime")
[[ $actual_runtime == "$expected_runtime" ]] ||
  fail "$runtime_pkg holds"$'\n'"$actual_runtime"$'\n'"expected"$'\n'"$expected_runtime"

actual_dev=$(contents "$dev")
for f in usr/include/zheap/zheap.h usr/include/zheap/config.h "$libdir/libzheap.a" \
         "$libdir/libzheap.so" "$libdir/cmake/zheap/zheapConfig.cmake" \
         "$libdir/cmake/zheap/zheapConfigVersion.cmake" "$libdir/cmake/zheap/zheapTargets.cmake" \
         "$libdir/pkgconfig/zheap.pc" "$libdir/pkgconfig/zheap-static.pc"; do
  grep -qxF "$f" <<<"$actual_dev" || fail "libzheap-dev lacks $f"
done
stray=$(grep -vE "^(usr/include/zheap/[A-Za-z0-9_]+\.(h|hpp)|$libdir/libzheap\.(a|so)|$libdir/cmake/zheap/zheap[A-Za-z-]*\.cmake|$libdir/pkgconfig/zheap(-static)?\.pc)$" \
        <<<"$actual_dev" || true)
[[ -z $stray ]] || fail "libzheap-dev holds files that are not development files:"$'\n'"$stray"
depends=$(dpkg-deb -f "$dev" Depends)
[[ $depends == "$runtime_pkg (= $version)" ]] ||
  fail "libzheap-dev depends on '$depends', not '$runtime_pkg (= $version)'"
echo "package-deb: file split ok ($(wc -l <<<"$actual_runtime") + $(wc -l <<<"$actual_dev") files)"

# ---- 3. install into a scratch root and build consumers against it ----------------------
root="$PWD/$build/root"
rm -rf "$root" "$build/consumer-cmake" "$build/consumer-pc"
dpkg-deb -x "$runtime" "$root"
dpkg-deb -x "$dev" "$root"

# check_links <executable> shared|static: which libzheap.so it loads, or that it needs none.
check_links() {
  # Whole outputs first: `cmd | grep -q` under pipefail fails when grep exits early
  # and the writer dies of SIGPIPE.
  local deps needed
  if [[ $2 == shared ]]; then
    deps=$(ldd "$1")
    grep -qF "$root/$libdir/libzheap.so.$major" <<<"$deps" ||
      fail "$1 does not load the packaged libzheap.so.$major: $deps"
  else
    needed=$(readelf -d "$1")
    if grep -q 'NEEDED.*libzheap' <<<"$needed"; then
      fail "$1 was linked statically but needs libzheap.so: $(grep NEEDED <<<"$needed")"
    fi
  fi
  "$1"
}

cmake -S tests/package/consumer -B "$build/consumer-cmake" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$build/consumer-cmake" >/dev/null
check_links "$build/consumer-cmake/consumer" shared    # the imported location's RPATH
check_links "$build/consumer-cmake/consumer_static" static

mkdir -p "$build/consumer-pc"
export PKG_CONFIG_LIBDIR="$root/$libdir/pkgconfig"     # the root's .pc files only
cc=${CC:-cc}
# shellcheck disable=SC2046 # pkg-config prints a list of arguments
"$cc" -std=c11 -Wall -Wextra -Werror tests/package/consumer/main.c \
      $(pkg-config --cflags --libs zheap) -o "$build/consumer-pc/consumer"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror tests/package/consumer/main.c \
      $(pkg-config --cflags --libs zheap-static) -o "$build/consumer-pc/consumer_static"
LD_LIBRARY_PATH="$root/$libdir" check_links "$build/consumer-pc/consumer" shared
check_links "$build/consumer-pc/consumer_static" static
echo "package-deb: ok"
