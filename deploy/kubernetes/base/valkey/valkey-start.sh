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

exec valkey-server "$run_dir/valkey.conf" "$@"
