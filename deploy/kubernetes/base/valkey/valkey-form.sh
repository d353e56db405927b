#!/bin/sh
# Forms the cluster, or extends it, from shards given as primary/replica pairs:
#   VALKEY_SHARDS="host-a0:6379,host-a1:6379 host-b0:6379,host-b1:6379 ..."
# The first node of each pair starts as the primary, the second as its replica: placing
# the two in different zones is the caller's job (one StatefulSet per shard, with pod
# anti-affinity on topology.kubernetes.io/zone).
#   - every node fresh: the primaries form the cluster with the slots spread evenly;
#   - a fresh node whose shard partner is in the cluster: it joins as its shard's replica;
#   - a fresh pair (a new shard): both join, then the slots are rebalanced onto it;
#   - nothing fresh: nothing to do. Safe to run again at any time.
# Logs in as `admin` (VALKEY_ADMIN_PASSWORD). VALKEY_CLI names the client (valkey-cli).
set -eu

: "${VALKEY_SHARDS:?set VALKEY_SHARDS to primary,replica pairs}"
: "${VALKEY_ADMIN_PASSWORD:?set VALKEY_ADMIN_PASSWORD}"
cli=${VALKEY_CLI:-valkey-cli}
wait_s=${VALKEY_FORM_WAIT_S:-300}
# valkey-cli reads the password from the environment, so it never shows in `ps`.
export REDISCLI_AUTH="$VALKEY_ADMIN_PASSWORD" VALKEYCLI_AUTH="$VALKEY_ADMIN_PASSWORD"

log() { echo "valkey-form: $*" >&2; }

# host:port -> ip:port (CLUSTER MEET needs addresses, not names).
address() {
    host=${1%:*}
    port=${1##*:}
    case "$host" in
        *[!0-9.]*) ip=$(getent hosts "$host" | awk 'NR == 1 { print $1 }') ;;
        *) ip=$host ;;
    esac
    [ -n "$ip" ] || return 1
    echo "$ip:$port"
}

call() {
    node=$1
    shift
    "$cli" --user admin --no-auth-warning -h "${node%:*}" -p "${node##*:}" "$@"
}

info_field() { call "$1" cluster info | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }

# A node is fresh when it knows no other node and serves no slot.
is_fresh() {
    [ "$(info_field "$1" cluster_known_nodes)" = 1 ] &&
        [ "$(info_field "$1" cluster_slots_assigned)" = 0 ]
}

myid() { call "$1" cluster myid | tr -d '\r'; }

# The id of the primary of the shard `node` belongs to (itself when it is a primary).
primary_id_of() {
    role=$(call "$1" role | head -n 1 | tr -d '\r')
    if [ "$role" = master ]; then
        myid "$1"
    else
        call "$1" cluster nodes | tr -d '\r' | awk '$3 ~ /myself/ { print $4 }'
    fi
}

# 1. Wait (bounded) until every node resolves and answers.
pairs=""
deadline=$(($(date +%s) + wait_s))
for shard in $VALKEY_SHARDS; do
    for name in "${shard%,*}" "${shard#*,}"; do
        until node=$(address "$name") && [ "$(call "$node" ping 2>/dev/null)" = PONG ]; do
            if [ "$(date +%s)" -ge "$deadline" ]; then
                log "$name did not answer within ${wait_s}s"
                exit 1
            fi
            sleep 2
        done
    done
    pairs="$pairs $(address "${shard%,*}"),$(address "${shard#*,}")"
done

# 2. No node in a cluster yet: the primaries form it.
seed=""
fresh_primaries=""
for pair in $pairs; do
    for node in "${pair%,*}" "${pair#*,}"; do
        if ! is_fresh "$node"; then seed=${seed:-$node}; fi
    done
    fresh_primaries="$fresh_primaries ${pair%,*}"
done
if [ -z "$seed" ]; then
    log "forming a new cluster of$fresh_primaries"
    # shellcheck disable=SC2086
    call "${pairs%%,*}" --cluster create $fresh_primaries --cluster-replicas 0 --cluster-yes
    seed=$(echo "$pairs" | awk '{ split($1, p, ","); print p[1] }')
fi

# 3. Every fresh node joins: as its partner's replica, or both as a new shard.
new_shards=0
for pair in $pairs; do
    first=${pair%,*}
    second=${pair#*,}
    if is_fresh "$first" && is_fresh "$second"; then
        log "adding the shard $first (replica $second)"
        call "$seed" --cluster add-node "$first" "$seed"
        new_shards=$((new_shards + 1))
        member=$first
        joining=$second
    elif is_fresh "$second"; then
        member=$first
        joining=$second
    elif is_fresh "$first"; then
        member=$second
        joining=$first
    else
        continue
    fi
    # A node just added takes a moment to be known to the seed through gossip.
    tries=30
    until primary=$(primary_id_of "$member") && [ -n "$primary" ] &&
        call "$seed" cluster nodes | grep -q "^$primary "; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { log "no primary known for $member"; exit 1; }
        sleep 1
    done
    log "$joining joins as a replica of $primary ($member's shard)"
    call "$seed" --cluster add-node "$joining" "$seed" --cluster-slave --cluster-master-id "$primary"
done

# 4. New shards take their share of the slots.
if [ "$new_shards" -gt 0 ]; then
    log "rebalancing the slots onto $new_shards new shard(s)"
    # Gossip first spreads the new nodes to every node: rebalancing waits for agreement.
    tries=60
    until call "$seed" --cluster check "$seed" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { log "the nodes do not agree on the layout"; exit 1; }
        sleep 1
    done
    call "$seed" --cluster rebalance "$seed" --cluster-use-empty-masters
fi

# 5. Wait (bounded) until the cluster says it is whole.
until [ "$(info_field "$seed" cluster_state)" = ok ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "the cluster is not ok after ${wait_s}s"
        exit 1
    fi
    sleep 1
done
# A slot just moved may still show as importing on a replica for a moment; one left
# open on a primary (an interrupted migration) is closed by `--cluster fix`, once.
# A replica that keeps a stale "importing" mark after its primary took the slot serves
# nothing wrong: it is reported, not fatal.
open_on_primaries() {
    report=$(call "$seed" --cluster check "$seed" 2>&1) && return 1
    printf '%s\n' "$report" | grep -q "All 16384 slots covered" || return 0
    printf '%s\n' "$report" | grep -q "All nodes agree" || return 0
    for node in $(printf '%s\n' "$report" | sed -n 's/.*Node \([^ ]*\) has slots in .* state.*/\1/p'); do
        [ "$(call "$node" role | head -n 1 | tr -d '\r')" = master ] && return 0
    done
    log "a replica still marks a moved slot as importing: $(printf '%s\n' "$report" | grep 'slots in')"
    return 1
}
tries=60
while open_on_primaries; do
    tries=$((tries - 1))
    if [ "$tries" -eq 30 ]; then
        log "open slots remain: fixing them"
        call "$seed" --cluster fix "$seed" --cluster-yes || true
    elif [ "$tries" -le 0 ]; then
        call "$seed" --cluster check "$seed"
        exit 1
    fi
    sleep 1
done
log "cluster ok"
