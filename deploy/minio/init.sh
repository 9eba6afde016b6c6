#!/bin/sh
# minio-init (docker-compose.yml) runs this once per `docker compose up`; every step is idempotent,
# so a changed S3_SECRET_KEY or S3_INTERMEDIATE_DAYS in .env takes effect on the next `up`.
set -eu

fail() { echo "minio-init: $*" >&2; exit 1; }
[ "${#S3_SECRET_KEY}" -ge 8 ] || fail "S3_SECRET_KEY must be at least 8 characters (MinIO's minimum)"
[ "${#MINIO_ROOT_PASSWORD}" -ge 8 ] || fail "MINIO_ROOT_PASSWORD must be at least 8 characters (MinIO's minimum)"
case "$S3_INTERMEDIATE_DAYS" in
  '' | *[!0-9]*) fail "S3_INTERMEDIATE_DAYS must be a whole number of days (0: keep intermediates), got '$S3_INTERMEDIATE_DAYS'" ;;
esac

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" > /dev/null
mc mb --ignore-existing "local/$S3_BUCKET"
# Private: clips leave the bucket only as presigned links.
mc anonymous set private "local/$S3_BUCKET"

# The bot and the workers get their own key, limited to this bucket, instead of the root one.
if [ "$S3_ACCESS_KEY" != "$MINIO_ROOT_USER" ]; then
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}\n' \
    "$S3_BUCKET" "$S3_BUCKET" > /tmp/spinbot-policy.json
  mc admin policy create local spinbot-bucket /tmp/spinbot-policy.json > /dev/null
  mc admin user add local "$S3_ACCESS_KEY" "$S3_SECRET_KEY" > /dev/null
  if ! out=$(mc admin policy attach local spinbot-bucket --user "$S3_ACCESS_KEY" 2>&1); then
    # A second run finds the policy attached already; anything else is a real failure.
    echo "$out" | grep -qi 'already' || fail "$out"
  fi
fi

# Job intermediates (scene audio, pictures) expire; final.mp4, plan.json and users' files stay.
# Same rule ID, prefix and tag as storage/s3.ts (setIntermediateExpiry), so that the bot's own
# check finds this rule instead of adding a second one.
if [ "$S3_INTERMEDIATE_DAYS" -gt 0 ]; then
  printf '{"Rules":[{"ID":"spinbot-expire-intermediates","Status":"Enabled","Filter":{"And":{"Prefix":"jobs/","Tags":[{"Key":"spinbot-kind","Value":"intermediate"}]}},"Expiration":{"Days":%d}}]}\n' \
    "$S3_INTERMEDIATE_DAYS" | mc ilm import "local/$S3_BUCKET"
else
  mc ilm rule rm --all --force "local/$S3_BUCKET" > /dev/null 2>&1 || true
fi
echo "minio-init: bucket $S3_BUCKET ready (intermediates expire after ${S3_INTERMEDIATE_DAYS} days; 0 = never)"
