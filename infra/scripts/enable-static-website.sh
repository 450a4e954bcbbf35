#!/bin/bash
# Switch on the storage account's static website ($web) with Entra ID auth (no account key). Run by the
# deploymentScripts resource in modules/storage.bicep with ACCOUNT and INDEX_DOCUMENT set; also runnable by hand:
#   ACCOUNT=<storage account> INDEX_DOCUMENT=index.html bash infra/scripts/enable-static-website.sh
# Idempotent. A fresh role assignment takes a minute or two to reach the data plane, hence the retries.
set -eu
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if az storage blob service-properties update --account-name "$ACCOUNT" --auth-mode login \
       --static-website --index-document "${INDEX_DOCUMENT:-index.html}" --only-show-errors >/dev/null; then
    echo "static website enabled on $ACCOUNT"
    exit 0
  fi
  echo "attempt $attempt failed (role assignment not effective yet?); retrying in 30 s"
  sleep 30
done
echo "could not enable the static website on $ACCOUNT" >&2
exit 1
