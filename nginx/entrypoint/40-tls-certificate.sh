#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts, when nginx terminates TLS (NGINX_TLS=on):
#
# 1. nginx serves /etc/nginx/tls/{fullchain,privkey}.pem. That is a link to the certificates service's
#    volume (its `live` pair, certificates/store.py) once the volume has a certificate; until then, to a
#    temporary self-signed one made here, so that nginx starts (and answers the ACME challenges on
#    port 80) before the first certificate exists.
# 2. A watcher reloads nginx when the volume's pair changes (the first certificate, each renewal):
#    `nginx -s reload` is graceful, the old workers finish what they serve, no request is dropped.
#    It checks every NGINX_CERTIFICATE_CHECK_SECONDS, tests the configuration with the new files first
#    (`nginx -t`) and keeps the old certificate if they do not load.
set -eu
[ "${NGINX_TLS:-off}" = on ] || exit 0

volume=${NGINX_CERTIFICATES_DIR:-/etc/nginx/certificates}
served=${NGINX_TLS_DIR:-/etc/nginx/tls}
temporary=${NGINX_TEMPORARY_TLS_DIR:-/etc/nginx/tls-temporary}
interval=${NGINX_CERTIFICATE_CHECK_SECONDS:-10}

pair() {
    cat "$volume/live/fullchain.pem" "$volume/live/privkey.pem" 2>/dev/null | cksum
}

if [ -s "$volume/live/fullchain.pem" ]; then
    ln -sfn "$volume/live" "$served"
else
    echo "$0: no certificate in $volume yet: serving a temporary self-signed one until it comes"
    mkdir -p "$temporary"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$NGINX_APP_HOST" \
        -addext "subjectAltName=DNS:$NGINX_APP_HOST,DNS:$NGINX_GLITCHTIP_HOST" \
        -keyout "$temporary/privkey.pem" -out "$temporary/fullchain.pem" 2>/dev/null
    ln -sfn "$temporary" "$served"
fi

watch() {
    loaded=$(pair)
    while sleep "$interval"; do
        current=$(pair)
        if [ "$current" = "$loaded" ] || [ ! -s "$volume/live/fullchain.pem" ]; then
            continue
        fi
        loaded=$current
        previous=$(readlink "$served")
        ln -sfn "$volume/live" "$served"
        if nginx -t -q; then
            nginx -s reload
            echo "$0: a new certificate in $volume: nginx reloaded"
        else
            ln -sfn "$previous" "$served"
            echo "$0: the new certificate in $volume does not load (above); still serving the previous one" >&2
        fi
    done
}
watch &
