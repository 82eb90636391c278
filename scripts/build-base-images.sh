#!/usr/bin/env bash
# Local stand-ins for the base images that ragline's Dockerfiles and docker-compose.yml name, for a
# machine that reaches no image registry (this CI machine): built from Debian packages (mmdebstrap) and
# PyPI, under the very names a registry would give them, so the project's Dockerfiles build unchanged.
#
#   scripts/build-base-images.sh           build the stand-ins that are missing (seconds when none is)
#   scripts/build-base-images.sh --force   rebuild all three
#
#   python:3.11.13-slim-bookworm   bookworm's python3.11 + venv (minbase, no docs), the host's CA bundle
#   redis:7.0.15-bookworm          bookworm's redis-server 7.0.15, user redis 999 as in the official image
#   chromadb/chroma:1.5.9          the python stand-in + pip's chromadb==1.5.9, `chroma run /config.yaml`
#
# An image of that name that is not a stand-in (a real one pulled from a registry) is never touched.
# A stand-in is rebuilt when this script, the CA bundle or the pip settings it carries change (label
# org.ragline.standin holds their checksum).
#
# What only the stand-ins carry (the project's Dockerfiles never do): the host's CA bundle, for this
# machine's TLS-intercepting proxy (PIP_CERT, SSL_CERT_FILE, REQUESTS_CA_BUNDLE point at it), and the
# http(s) index settings of the host's pip config (a file:// index or find-links folder of the host
# does not exist inside a build; the torch CPU wheel goes in through scripts/build-images.sh instead).
#
# Env: DOCKER (default /usr/bin/docker: Debian's 20.10 client, not a newer one that wants buildx),
#      DEBIAN_MIRROR (default http://deb.debian.org/debian), CA_BUNDLE (default: pip's `cert`, else
#      /etc/ssl/certs/ca-certificates.crt), HOST_PYTHON (default python3: reads the host pip config).
set -euo pipefail

PYTHON_IMAGE="python:3.11.13-slim-bookworm"
REDIS_IMAGE="redis:7.0.15-bookworm"
CHROMA_IMAGE="chromadb/chroma:1.5.9"
CHROMA_VERSION="1.5.9"

DOCKER="${DOCKER:-/usr/bin/docker}"
export DOCKER_BUILDKIT=1
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_PYTHON="${HOST_PYTHON:-python3}"
force=0
case "${1:-}" in
    --force) force=1 ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

pip_config() {  # the value of one key of the host's pip config ("" when unset)
    "$HOST_PYTHON" -m pip config list 2>/dev/null | sed -n "s/^[a-z:.]*$1='\\(.*\\)'\$/\\1/p" | tail -1
}

CA_BUNDLE="${CA_BUNDLE:-$(pip_config cert)}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
[ -r "$CA_BUNDLE" ] || { echo "CA bundle $CA_BUNDLE is not readable (set CA_BUNDLE)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The pip settings a build inside a stand-in can use: the http(s) indexes of the host's config.
{
    echo "[global]"
    echo "cert = /usr/local/share/ragline-standin/ca-bundle.crt"
    echo "disable-pip-version-check = true"
    echo "timeout = 180"
    index="${PIP_INDEX_URL:-$(pip_config index-url)}"
    case "$index" in http://* | https://*) echo "index-url = $index" ;; esac
    extra=""
    for url in ${PIP_EXTRA_INDEX_URL:-$(pip_config extra-index-url)}; do
        case "$url" in http://* | https://*) extra="$extra $url" ;; esac
    done
    [ -z "$extra" ] || echo "extra-index-url =$extra"
} >"$work/pip.conf"

recipe="$(cat "${BASH_SOURCE[0]}" "$CA_BUNDLE" "$work/pip.conf" | sha256sum | cut -c1-16)"

replaced=()  # the stand-ins a rebuild untagged: removed at the end when nothing uses them
needed() {  # needed IMAGE: 0 when IMAGE must be (re)built
    local label
    if ! label="$("$DOCKER" image inspect --format '{{index .Config.Labels "org.ragline.standin"}}' "$1" 2>/dev/null)"; then
        return 0
    fi
    if [ -z "$label" ] || [ "$label" = "<no value>" ]; then
        echo "$1: a real image (not a stand-in), kept"
        return 1
    fi
    if [ "$force" = 1 ] || [ "$label" != "$recipe" ]; then
        replaced+=("$("$DOCKER" image inspect --format '{{.Id}}' "$1")")
        return 0
    fi
    echo "$1: up to date"
    return 1
}

# mmdebstrap options shared by both Debian roots: minbase, no recommends, no docs/man/locales (as the
# official slim images; merged /usr without the usrmerge package, which pulls in perl), and the host's
# CA bundle where the TLS clients inside will look for it.
debian_root() {  # debian_root PACKAGES [MORE MMDEBSTRAP OPTIONS...]  -> rootfs tar at $work/root.tar
    local packages="$1"
    shift
    if ! mmdebstrap --quiet --variant=minbase \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --include="ca-certificates,$packages" \
        --customize-hook="mkdir -p \"\$1/usr/local/share/ragline-standin\"" \
        --customize-hook="upload $CA_BUNDLE /usr/local/share/ragline-standin/ca-bundle.crt" \
        --customize-hook="upload $CA_BUNDLE /etc/ssl/certs/ca-certificates.crt" \
        "$@" bookworm "$work/root.tar" "$MIRROR" >"$work/mmdebstrap.log" 2>&1; then
        tail -30 "$work/mmdebstrap.log" >&2
        echo "mmdebstrap failed (packages: $packages)" >&2
        exit 1
    fi
}

CA_ENV=(
    --change "ENV PIP_CERT=/usr/local/share/ragline-standin/ca-bundle.crt"
    --change "ENV SSL_CERT_FILE=/usr/local/share/ragline-standin/ca-bundle.crt"
    --change "ENV REQUESTS_CA_BUNDLE=/usr/local/share/ragline-standin/ca-bundle.crt"
)

if needed "$PYTHON_IMAGE"; then
    echo "$PYTHON_IMAGE: building the stand-in (mmdebstrap, about a minute)"
    start=$SECONDS
    debian_root python3.11,python3.11-venv,python-is-python3 \
        --customize-hook="copy-in $work/pip.conf /etc"
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        "${CA_ENV[@]}" \
        --change "LABEL org.ragline.standin=$recipe" \
        --change 'CMD ["python3"]' \
        "$work/root.tar" "$PYTHON_IMAGE" >/dev/null
    rm "$work/root.tar"
    echo "$PYTHON_IMAGE: built in $((SECONDS - start)) s"
fi

if needed "$REDIS_IMAGE"; then
    echo "$REDIS_IMAGE: building the stand-in (mmdebstrap, about a minute)"
    start=$SECONDS
    # The official image: uid/gid 999, protected mode compiled off (without it, every client from
    # another container gets DENIED), the entrypoint drops root to redis after chown'ing /data. Here a
    # redis-server wrapper first on PATH adds --protected-mode no, so a Kubernetes `command:`, which
    # bypasses the entrypoint, gets it too.
    cat >"$work/redis-server" <<'EOF'
#!/bin/sh
exec /usr/bin/redis-server "$@" --protected-mode no
EOF
    cat >"$work/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# `docker run redis --port 1234` and `docker run redis app.conf`: the arguments go to redis-server.
case "$1" in -* | *.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
EOF
    chmod 755 "$work/redis-server" "$work/docker-entrypoint.sh"
    debian_root redis-server,redis-tools \
        --essential-hook='echo "redis:x:999:" >>"$1/etc/group"' \
        --essential-hook='echo "redis:x:999:999::/var/lib/redis:/usr/sbin/nologin" >>"$1/etc/passwd"' \
        --essential-hook='echo "redis:!:19000::::::" >>"$1/etc/shadow"' \
        --customize-hook="copy-in $work/redis-server $work/docker-entrypoint.sh /usr/local/bin" \
        --customize-hook='install -d -o 999 -g 999 "$1/data"'
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'WORKDIR /data' \
        --change 'VOLUME /data' \
        --change 'EXPOSE 6379' \
        --change "LABEL org.ragline.standin=$recipe" \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["redis-server"]' \
        "$work/root.tar" "$REDIS_IMAGE" >/dev/null
    rm "$work/root.tar"
    echo "$REDIS_IMAGE: built in $((SECONDS - start)) s"
fi

if needed "$CHROMA_IMAGE"; then
    echo "$CHROMA_IMAGE: building the stand-in (pip install chromadb==$CHROMA_VERSION)"
    start=$SECONDS
    mkdir -p "$work/chroma"
    cat >"$work/chroma/config.yaml" <<'EOF'
# The official image's /config.yaml: serve on 0.0.0.0:8000, persist to /data.
persist_path: /data
port: 8000
listen_address: 0.0.0.0
EOF
    # curl: docker-compose.yml's healthcheck asks the heartbeat with it.
    cat >"$work/chroma/Dockerfile" <<EOF
FROM $PYTHON_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/chroma && /opt/chroma/bin/pip install --no-cache-dir chromadb==$CHROMA_VERSION
COPY config.yaml /config.yaml
RUN install -d -m 1777 /data
ENV PATH=/opt/chroma/bin:\$PATH ANONYMIZED_TELEMETRY=FALSE
WORKDIR /data
VOLUME /data
EXPOSE 8000
LABEL org.ragline.standin=$recipe
CMD ["chroma", "run", "/config.yaml"]
EOF
    "$DOCKER" build --quiet -t "$CHROMA_IMAGE" "$work/chroma" >/dev/null
    echo "$CHROMA_IMAGE: built in $((SECONDS - start)) s"
fi

for old in "${replaced[@]}"; do
    "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
done
