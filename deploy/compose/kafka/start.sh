#!/bin/sh
# hgc's broker in docker compose (see server.properties): on first start, format the storage
# with one SCRAM-SHA-512 user per principal (Kafka's own tool; passwords from Docker secrets),
# then start the broker, create the topics of topics.txt and apply the ACLs of acls.txt over
# the loopback listener, as the broker's own super user.
#
# kafka-storage takes the passwords as arguments: they are visible to processes of this
# container only, for the second the format runs, and never again.
set -eu
KAFKA=/opt/kafka/bin
CONFIG=/tmp/server.properties
DATA=/var/lib/kafka/data
sed "s|@PUBLIC_HOST@|${BILAT_PUBLIC_HOST:?set BILAT_PUBLIC_HOST}|" /etc/bilat/kafka/server.properties >"$CONFIG"

if [ ! -f "$DATA/meta.properties" ]; then
    set --
    for user in $BILAT_KAFKA_USERS; do
        secret="/run/secrets/kafka_password_$user"
        [ -s "$secret" ] || { echo "missing Docker secret $secret" >&2; exit 1; }
        set -- "$@" --add-scram "SCRAM-SHA-512=[name=$user,password=$(cat "$secret")]"
    done
    "$KAFKA/kafka-storage.sh" format --config "$CONFIG" \
        --cluster-id "$("$KAFKA/kafka-storage.sh" random-uuid)" "$@" >/dev/null
    echo "storage formatted with SCRAM users: $BILAT_KAFKA_USERS"
fi

"$KAFKA/kafka-server-start.sh" "$CONFIG" &
broker=$!
trap 'kill -TERM "$broker"; wait "$broker"' TERM INT

# The topics of topics.txt that do not exist yet, then every binding of acls.txt (adding one
# that exists is a no-op), once per version of the two files. The first start takes a minute or
# two (one Kafka tool per line); Bilat's processes restart until then.
applied="$DATA/.bilat-setup.sha256"
if ! sha256sum -c "$applied" >/dev/null 2>&1; then
    until "$KAFKA/kafka-acls.sh" --bootstrap-server 127.0.0.1:9091 --list >/dev/null 2>&1; do
        kill -0 "$broker" || exit 1
        sleep 1
    done
    grep -v '^#' /etc/bilat/kafka/topics.txt | while read -r topic partitions settings; do
        configs=""
        [ "$settings" = "-" ] || for kv in $(echo "$settings" | tr ',' ' '); do configs="$configs --config $kv"; done
        # shellcheck disable=SC2086 # word splitting of configs is wanted
        "$KAFKA/kafka-topics.sh" --bootstrap-server 127.0.0.1:9091 --create --if-not-exists \
            --topic "$topic" --partitions "$partitions" --replication-factor 1 $configs >/dev/null
    done
    grep -v '^#' /etc/bilat/kafka/acls.txt | while read -r principal resource pattern name operations; do
        case "$resource" in
            cluster) target="--cluster" ;;
            transactional_id) target="--transactional-id $name" ;;
            *) target="--$resource $name" ;;
        esac
        ops=""
        for op in $(echo "$operations" | tr ',' ' '); do ops="$ops --operation $op"; done
        # shellcheck disable=SC2086 # word splitting of target and ops is wanted
        "$KAFKA/kafka-acls.sh" --bootstrap-server 127.0.0.1:9091 --add --allow-principal "$principal" \
            $target --resource-pattern-type "$pattern" $ops >/dev/null
    done
    sha256sum /etc/bilat/kafka/topics.txt /etc/bilat/kafka/acls.txt >"$applied"
    echo "topics of topics.txt created, ACLs of acls.txt applied"
fi
wait "$broker"
