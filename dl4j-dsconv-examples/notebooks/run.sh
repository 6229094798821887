#!/usr/bin/env bash
# Executes every notebook of this folder headless and fails on any cell error; CI runs it from scripts/test.sh.
#
#   run.sh [--full] [--setup] [NOTEBOOK.ipynb ...]
#
# Installs what is missing first (idempotent): Jupyter's nbconvert from Debian (apt-get), the Fashion-MNIST files
# (scripts/install-data.sh), the rapaio Java kernel from Maven Central (mvn dependency:copy), its kernelspec, and
# the project's shaded CLI jar (built only when missing or older than the sources). Then it checks that the
# committed notebooks hold no outputs, executes each one into dl4j-dsconv-examples/target/notebooks/ (retrying a
# kernel that does not answer at start-up, up to 3 times), and checks every executed copy: each code cell ran without an
# error output, and each notebook shows at least one PNG.
#
#   --full    the notebooks' interactive sizes (all 10,000 test images, longer training); default: the small
#             subsets CI uses (DSCONV_NB_QUICK=1), about 5 minutes for all four
#   --setup   install and write the kernelspec only, then print how to open the notebooks interactively
#
# Environment: DSCONV_NB_XMX kernel heap (default 3g), DSCONV_NB_STARTUP_TIMEOUT seconds the kernel has to answer
# at the first attempt (default 30; doubled at each retry), DSCONV_NB_CELL_TIMEOUT seconds per cell (default 1800).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$(dirname "$here")"
root="$(dirname "$module")"
out="$module/target/notebooks"
cli_jar="$module/target/dl4j-dsconv-examples-0.1.0-SNAPSHOT-cli.jar"
rjk_version="3.0.1"
kernel_jar="$out/kernel/rapaio-jupyter-kernel-$rjk_version.jar"
jupyter_path="$out/jupyter"
kernel_name="dsconv-java"

full=0
setup_only=0
notebooks=()
for a in "$@"; do
  case "$a" in
    --full) full=1 ;;
    --setup) setup_only=1 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
    *) notebooks+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")") ;;
  esac
done
if [ ${#notebooks[@]} -eq 0 ]; then
  notebooks=("$here"/*.ipynb)
fi

# Debian's jupyter runs on Debian's python3; another python3 earlier on PATH must not shadow it.
export PATH="/usr/bin:$PATH"

log() { echo "run.sh: $*" >&2; }

install_jupyter() {
  if [ -x /usr/bin/jupyter-nbconvert ] && /usr/bin/python3 -c 'import nbconvert, nbclient' 2>/dev/null; then
    return
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "need root (or sudo) to run: apt-get install -y jupyter-nbconvert jupyter-core"; exit 1
    fi
  fi
  log "installing Debian packages jupyter-nbconvert jupyter-core..."
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-core >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-core >/dev/null
  fi
}

install_kernel() {
  if [ ! -s "$kernel_jar" ]; then
    log "fetching io.github.padreati:rapaio-jupyter-kernel:$rjk_version (Maven Central)..."
    mkdir -p "$(dirname "$kernel_jar")"
    (cd "$root" && mvn -N -B -ntp -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
      -Dartifact="io.github.padreati:rapaio-jupyter-kernel:$rjk_version" \
      -DoutputDirectory="$(dirname "$kernel_jar")" >&2)
  fi
  # The kernel runs cells in its own JVM (JShell, direct execution), so these options are the notebooks' JVM's.
  mkdir -p "$jupyter_path/kernels/$kernel_name"
  /usr/bin/python3 - "$jupyter_path/kernels/$kernel_name/kernel.json" "$(command -v java)" "$kernel_jar" \
    "${DSCONV_NB_XMX:-3g}" <<'EOF'
import json, sys
path, java, jar, xmx = sys.argv[1:]
spec = {
    "argv": [java, "-Xmx" + xmx, "-Djava.awt.headless=true",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.bytedeco.javacpp.maxbytes=6G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=10G",
             "-jar", jar, "{connection_file}"],
    "display_name": "Java 17 (dl4j-dsconv)",
    "language": "java",
    "interrupt_mode": "message",
    # RJK_MIMA_CACHE is resolved against the kernel jar's folder: keep it relative.
    "env": {"RJK_TIMEOUT_MILLIS": "-1", "RJK_MIMA_CACHE": "../m2"},
}
with open(path, "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
EOF
}

cli_jar_stale() {
  [ ! -f "$cli_jar" ] && return 0
  [ -n "$(find "$root/pom.xml" "$root/dl4j-dsconv-core" "$module" \
        \( -name '*.java' -o -name 'pom.xml' -o -path '*/src/main/resources/*' \) -newer "$cli_jar" -print -quit \
        2>/dev/null)" ]
}

build_cli_jar() {
  if cli_jar_stale; then
    log "building the CLI jar (missing or older than the sources)..."
    (cd "$root" && mvn -B -ntp -q -pl dl4j-dsconv-examples -am package -DskipTests >&2)
  fi
}

install_jupyter
"$root/scripts/install-data.sh"
install_kernel
build_cli_jar

if [ "$setup_only" -eq 1 ]; then
  cat <<EOF
Kernel "$kernel_name" is ready. To open the notebooks interactively (Debian: apt-get install jupyter-notebook):
  cd $here && JUPYTER_PATH=$jupyter_path jupyter notebook
or, with JupyterLab or VS Code's Jupyter extension, start it with the same JUPYTER_PATH and pick the kernel
"Java 17 (dl4j-dsconv)".
EOF
  exit 0
fi

/usr/bin/python3 "$here/check_notebooks.py" stripped "${notebooks[@]}"

if [ "$full" -eq 1 ]; then unset DSCONV_NB_QUICK; else export DSCONV_NB_QUICK=1; fi
export JUPYTER_PATH="$jupyter_path"
mkdir -p "$out/logs"
executed=()
summary=()
t_all=$(date +%s)
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  target="$out/$name"
  logf="$out/logs/${name%.ipynb}.log"
  rm -f "$target" "$logf"
  t0=$(date +%s)
  ok=0
  startup="${DSCONV_NB_STARTUP_TIMEOUT:-30}"
  for attempt in 1 2 3; do
    log "executing $name (attempt $attempt, kernel start-up timeout ${startup} s)..."
    attempt_log="$logf.$attempt"
    if jupyter nbconvert --to notebook --execute \
        --ExecutePreprocessor.kernel_name="$kernel_name" \
        --ExecutePreprocessor.startup_timeout="$startup" \
        --ExecutePreprocessor.timeout="${DSCONV_NB_CELL_TIMEOUT:-1800}" \
        --output-dir "$out" --output "$name" "$nb" >"$attempt_log" 2>&1; then
      ok=1
    fi
    cat "$attempt_log" >>"$logf" && rm -f "$attempt_log"
    [ "$ok" -eq 1 ] && break
    # Only a kernel that never answered is retried: about 1 start in 10 the kernel binds its sockets and never
    # answers, and on a loaded machine the JVM can need longer than the timeout. A cell error is final.
    if tail -n 5 "$logf" | grep -q -E "Kernel didn't respond|Kernel died before replying"; then
      log "$name: the kernel did not answer within ${startup} s, retrying"
      startup=$((startup * 2))
      continue
    fi
    break
  done
  secs=$(( $(date +%s) - t0 ))
  if [ "$ok" -ne 1 ]; then
    log "$name FAILED after ${secs} s; the end of $logf:"
    grep -v -E '^\[[0-9-]+ [0-9:]+\] \[(INFO|DEBUG)' "$logf" | tail -n 40 >&2
    exit 1
  fi
  executed+=("$target")
  summary+=("$(printf '%-34s %4d s' "$name" "$secs")")
done

for s in "${summary[@]}"; do log "$s"; done
log "all notebooks: $(( $(date +%s) - t_all )) s; executed copies in $out"
/usr/bin/python3 "$here/check_notebooks.py" executed "${executed[@]}"
