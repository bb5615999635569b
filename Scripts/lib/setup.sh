# Shared set-up for Scripts/ke and Scripts/test: system packages, BLAS kernel, release build.
# Sourced, not executed.

KE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KE_PACKAGES=(libopenblas-dev libedit-dev libonig-dev libssl-dev pkg-config)

# Installs the Debian packages ke needs when they are missing.
ke_ensure_packages() {
    ke_apt_install "${KE_PACKAGES[@]}"
}

# Debian's Jupyter packages: the kernel wrapper (Scripts/jupyter/ke_kernel.py runs under
# /usr/bin/python3 with python3-ipykernel), `jupyter kernelspec`/`console`/`nbconvert`, nbclient
# and jupyter_kernel_test for the Jupyter stage of Scripts/test. Only `ke --install-kernel` and that
# stage need them; the ke binary never needs Python.
KE_JUPYTER_PACKAGES=(python3-ipykernel python3-jupyter-client jupyter-client python3-nbclient
    python3-nbformat jupyter-nbconvert python3-jupyter-kernel-test jupyter-console)

# Installs the Jupyter packages when they are missing.
ke_ensure_jupyter_packages() {
    ke_apt_install "${KE_JUPYTER_PACKAGES[@]}"
}

# True when every Jupyter package is installed (nothing is installed).
ke_have_jupyter_packages() {
    [ -z "$(ke_missing_packages "${KE_JUPYTER_PACKAGES[@]}")" ]
}

# The packages among "$@" that dpkg does not list as installed, space-separated.
ke_missing_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[*]}"
}

# Installs the Debian packages "$@" that are missing (apt-get; as root, or with sudo without a
# password); otherwise names them and fails.
ke_apt_install() {
    local missing
    read -r -a missing <<< "$(ke_missing_packages "$@")"
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo"
        else
            echo "ke: missing system packages: ${missing[*]}" >&2
            echo "ke: install them with: sudo apt-get install ${missing[*]}" >&2
            return 1
        fi
    fi
    echo "ke: installing ${missing[*]} ..." >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# Picks the OpenBLAS kernel for this CPU unless the user chose one: Debian's 0.3.21 misdetects
# recent Xeons as Prescott (~30 GFLOP/s instead of ~245).
ke_blas_env() {
    if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
        if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
        elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell
        fi
    fi
}

# True when the release binary is older than any source file.
ke_needs_build() {
    local bin="$KE_ROOT/.build/release/ke"
    [ -x "$bin" ] || return 0
    [ -n "$(find "$KE_ROOT/Sources" "$KE_ROOT/Package.swift" -newer "$bin" -print -quit 2>/dev/null)" ]
}
