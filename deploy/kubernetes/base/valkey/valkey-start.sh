#!/bin/sh
# Starts one node of the cluster: renders the users from the passwords in the environment
# (a Secret), then runs valkey-server on valkey.conf.
#   VALKEY_ADMIN_PASSWORD       the `admin` user's password (operators, formation, replication)
#   VALKEY_GAMESERVER_PASSWORD  the `gameserver` user's password (gateways and workers)
#   VALKEY_ANNOUNCE_HOSTNAME    optional: the name clients and other nodes reach this node by
#   VALKEY_DATA_DIR             the persistent data: AOF, RDB, nodes.conf (default /data)
#   VALKEY_CONFIG_DIR           where valkey.conf and users.acl lie (default /etc/valkey)
#   VALKEY_RUN_DIR              where the rendered files go (default /run/valkey; a tmpfs)
# Extra arguments go to valkey-server (they override valkey.conf).
set -eu

config_dir=${VALKEY_CONFIG_DIR:-/etc/valkey}
run_dir=${VALKEY_RUN_DIR:-/run/valkey}
data_dir=${VALKEY_DATA_DIR:-/data}

check_password() {
    # Letters, digits, '-' and '_' only (e.g. `openssl rand -hex 32`): the password is
    # written into a config line, where quotes and spaces would change its meaning.
    case "$2" in
        "" | *[!A-Za-z0-9_-]*)
            echo "valkey-start: $1 must be set to letters, digits, '-' or '_'" >&2
            exit 64
            ;;
    esac
}
check_password VALKEY_ADMIN_PASSWORD "${VALKEY_ADMIN_PASSWORD:-}"
check_password VALKEY_GAMESERVER_PASSWORD "${VALKEY_GAMESERVER_PASSWORD:-}"

sha256() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }

# After every node restarted with a new IP (a whole cluster rescheduled), the IPs that
# nodes.conf remembers are all stale and no node finds another. Each node's line keeps
# its announced hostname (`ip:port@bus,hostname,...`): look each one up again.
refresh_peer_addresses() {
    conf="$data_dir/nodes.conf"
    [ -f "$conf" ] || return 0
    while IFS= read -r line; do
        address=$(printf '%s\n' "$line" | cut -d ' ' -f 2)
        host=$(printf '%s\n' "$address" | cut -s -d , -f 2)
        old_ip=${address%%:*}
        case "$host" in "" | *=*) host="" ;; esac
        case "$old_ip" in *[!0-9.]* | "") host="" ;; esac
        ip=""
        if [ -n "$host" ]; then ip=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }'); fi
        if [ -n "$ip" ] && [ "$ip" != "$old_ip" ]; then
            printf '%s\n' "$line" | sed "s/^\([^ ]* \)$old_ip:/\1$ip:/"
        else
            printf '%s\n' "$line"
        fi
    done <"$conf" >"$conf.refreshed"
    mv "$conf.refreshed" "$conf"
}

umask 077
mkdir -p "$run_dir"
# The ACL file holds SHA-256 digests, never the passwords themselves.
sed -e "s/@ADMIN_PASSWORD_SHA256@/$(sha256 "$VALKEY_ADMIN_PASSWORD")/" \
    -e "s/@GAMESERVER_PASSWORD_SHA256@/$(sha256 "$VALKEY_GAMESERVER_PASSWORD")/" \
    "$config_dir/users.acl" >"$run_dir/users.acl"
{
    echo "dir $data_dir"
    echo "include $config_dir/valkey.conf"
    echo "aclfile $run_dir/users.acl"
    # Replicas log in to their primary as `admin`.
    echo "masteruser admin"
    echo "masterauth $VALKEY_ADMIN_PASSWORD"
    if [ -n "${VALKEY_ANNOUNCE_HOSTNAME:-}" ]; then
        # Clients are sent to this name (CLUSTER SLOTS/SHARDS), which survives a new pod IP.
        echo "cluster-announce-hostname $VALKEY_ANNOUNCE_HOSTNAME"
        echo "cluster-preferred-endpoint-type hostname"
    fi
} >"$run_dir/valkey.conf"

refresh_peer_addresses
exec valkey-server "$run_dir/valkey.conf" "$@"
