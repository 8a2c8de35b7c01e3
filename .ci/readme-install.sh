#!/usr/bin/env bash
# readme-install.sh - run the README's Install section as a user would, so it cannot
# drift from what works: every ```sh block of the section in order, in one shell, in a
# scratch copy of the tree (git ls-files) with a scratch HOME.
#
# Blocks that build libzheap (`cmake -B build...`, `cpack`) run in the copy of the
# source; the others in an app directory that holds the README's example as app.c and
# the section's ```cmake block as its CMakeLists.txt (behind the project() and
# add_executable() lines a user has). `sudo apt-get install` lines are not run: they
# would install into this machine; .ci/package-deb.sh installs the packages into a
# scratch root and builds against them instead.
#   .ci/readme-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$PWD/build/readme-install"
rm -rf "$scratch"
mkdir -p "$scratch/src" "$scratch/app" "$scratch/home"
git ls-files -z | xargs -0 cp --parents -t "$scratch/src"

python3 - "$scratch" <<'PY'
import pathlib, re, sys

scratch = pathlib.Path(sys.argv[1])
readme = pathlib.Path("README.md").read_text()
example = re.search(r"^## Example\n.*?```c\n(.*?)```", readme, re.S | re.M).group(1)
install = re.search(r"^## Install\n(.*?)^## ", readme, re.S | re.M).group(1)

(scratch / "app/app.c").write_text(example)
app_cmake = "".join(re.findall(r"```cmake\n(.*?)```", install, re.S))
(scratch / "app/CMakeLists.txt").write_text(
    "cmake_minimum_required(VERSION 3.25)\nproject(app C)\n"
    "add_executable(app app.c)\nadd_executable(app_static app.c)\n" + app_cmake)

script = ["set -euxo pipefail", f'export HOME="{scratch}/home"']
for block in re.findall(r"```sh\n(.*?)```", install, re.S):
    where = "src" if re.search(r"cmake -B build\b|cpack", block) else "app"
    script.append(f'cd "{scratch}/{where}"')
    script += [line for line in block.splitlines()
               if not line.lstrip().startswith("sudo apt-get install")]
(scratch / "run.sh").write_text("\n".join(script) + "\n")
PY

bash "$scratch/run.sh" >"$scratch/run.log" 2>&1 || {
  tail -n 40 "$scratch/run.log"
  echo "readme-install: a command of the README's Install section failed ($scratch/run.log)" >&2
  exit 1
}
grep -c '^+ ' "$scratch/run.log" | xargs printf 'readme-install: ok (%s commands)\n'
