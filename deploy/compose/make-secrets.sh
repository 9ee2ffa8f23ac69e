#!/bin/sh
# The secrets of one party's compose deployment, in deploy/compose/secrets (mode 0700): a CA,
# the broker's and Redis's certificates (host names verified by every client), one random
# SCRAM password per Kafka principal, Redis's password and ACL file (its SHA-256 only), the
# signing key's passphrase. Never overwrites a file that exists. Run as root, it also gives
# each file to the user of the container that reads it (kafka 1000, redis 999, bilat 10001)
# with mode 0400; otherwise it prints the commands.
#
#   deploy/compose/make-secrets.sh PARTY PARTNER PUBLIC_HOST
#   deploy/compose/make-secrets.sh hgc dcc hgc-kafka.example.net
#
# Then hand the partner, over a channel you trust: secrets/ca.crt (to verify our broker) and
# secrets/kafka_password_<PARTNER>-mirror (its MirrorMaker's password here); put what the
# partner hands you in secrets/partner_ca.crt and secrets/partner_password. Passwords are
# written without a final newline: MirrorMaker 2 reads a secret file whole.
set -eu
party=${1:?usage: make-secrets.sh PARTY PARTNER PUBLIC_HOST}
partner=${2:?usage: make-secrets.sh PARTY PARTNER PUBLIC_HOST}
public=${3:?usage: make-secrets.sh PARTY PARTNER PUBLIC_HOST}
cd "$(dirname "$0")"
umask 077
mkdir -p secrets/ca
cd secrets

password() {  # 32 random bytes, base64url: no quote, backslash or newline (JAAS-safe)
    [ -e "$1" ] || openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n' >"$1"
}

if [ ! -e ca/ca.key ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -keyout ca/ca.key -out ca.crt -subj "/CN=bilat $party CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
fi
cert() {  # name, subject alternative names
    [ -e "$1.crt" ] && return
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.csr" -subj "/CN=$1"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca/ca.key -CAcreateserial -days 397 \
        -extfile "$1.ext" -out "$1.crt"
    rm -f "$1.csr" "$1.ext"
}
cert kafka "DNS:kafka,DNS:$public"
[ -e kafka_server.pem ] || cat kafka.key kafka.crt ca.crt >kafka_server.pem  # PKCS#8 key + chain
rm -f kafka.key kafka.crt
cert redis "DNS:redis"

for user in admin ingest sonata worker batcher reconciler settler mirror-writer "$partner-mirror"; do
    password "kafka_password_$user"
done
password redis_password
password key_passphrase
if [ ! -e redis_users.acl ]; then
    hash=$(tr -d '\n' <redis_password | sha256sum | cut -d' ' -f1)
    printf 'user default off\nuser bilat on #%s ~bilat:* &bilat:* +@all -@dangerous\n' "$hash" \
        >redis_users.acl
fi

# readers: kafka (uid 1000: the broker, MirrorMaker 2), redis (999), bilat (10001:10001)
shared="kafka_password_worker kafka_password_batcher kafka_password_reconciler"
if [ "$(id -u)" = 0 ]; then
    chmod 0444 ca.crt
    chown 1000 kafka_server.pem kafka_password_*
    chmod 0400 kafka_server.pem kafka_password_*
    chgrp 10001 $shared && chmod 0440 $shared  # the broker at format time and the process
    chown 999 redis.crt redis.key redis_users.acl && chmod 0400 redis.crt redis.key redis_users.acl
    chown 10001 redis_password key_passphrase && chmod 0400 redis_password key_passphrase
    for file in partner_ca.crt partner_password; do
        if [ -e "$file" ]; then chown 1000 "$file" && chmod 0400 "$file"; fi
    done
    if [ -e "../keys/$party.key" ]; then chown 10001 "../keys/$party.key"; fi
else
    echo "not root: give each file to the user of the container that reads it:
  chmod 0444 ca.crt
  sudo chown 1000 kafka_server.pem kafka_password_* partner_ca.crt partner_password
  sudo chgrp 10001 $shared && chmod 0440 $shared
  sudo chown 999 redis.crt redis.key redis_users.acl
  sudo chown 10001 redis_password key_passphrase ../keys/$party.key"
fi
echo "secrets in $(pwd); hand $partner ca.crt and kafka_password_$partner-mirror"
