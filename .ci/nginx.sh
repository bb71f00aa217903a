#!/usr/bin/env bash
# The README's "three nodes behind nginx", as documented: Redis, three nodes
# of the broadcast example, and Debian's nginx with the README's proxy
# settings, on free loopback ports; then a test that talks to the nodes
# through nginx only, and a check that nginx spread the clients over all
# three. Installs redis-server and nginx if missing; stops everything after.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
command -v redis-server >/dev/null || install redis-server
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || install nginx
nginx="$(command -v nginx || echo /usr/sbin/nginx)"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
dir="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

wait_for() { # FILE TEXT
    for _ in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1:"; cat "$1"; exit 1
}

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    >"$dir/redis.log" 2>&1 &
pids+=($!)
wait_for "$dir/redis.log" "Ready to accept connections"

cargo build --example broadcast
ports=()
for n in 1 2 3; do
    port="$(free_port)"
    ports+=("$port")
    target/debug/examples/broadcast "127.0.0.1:$port" --workers 64 \
        --redis "redis://127.0.0.1:$redis_port" >"$dir/node$n.log" 2>&1 &
    pids+=($!)
done
for n in 1 2 3; do wait_for "$dir/node$n.log" "subscriber connected"; done

# The README's configuration, with these ports.
nginx_port="$(free_port)"
cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events {}
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    upstream stdws {
        server 127.0.0.1:${ports[0]};
        server 127.0.0.1:${ports[1]};
        server 127.0.0.1:${ports[2]};
    }
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://stdws;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
        }
    }
}
CONF
"$nginx" -p "$dir" -c "$dir/nginx.conf" &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
    sleep 0.1
done
echo "nginx $("$nginx" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$nginx_port before nodes on ${ports[*]}"

STDWS_BALANCER_ADDR="127.0.0.1:$nginx_port" \
    cargo test --test backplane three_nodes_behind_a_load_balancer -- --nocapture
for n in 1 2 3; do
    grep -q "^connect " "$dir/node$n.log" || { echo "nginx sent no client to node $n"; exit 1; }
done
echo "every node served clients through nginx"
