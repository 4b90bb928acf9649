#!/usr/bin/env bash
# Add a DVC remote and make it the default, keeping anything secret out of git.
#
#   scripts/add-remote.sh [--local] NAME URL [option=value ...]
#
# URL: a folder path, ssh://[user@]host/path, s3://bucket/path, gs://bucket/path, azure://container/path.
# The URL goes into .dvc/config (committed, so a clone can `dvc pull`), or with --local into
# .dvc/config.local (git-ignored: a remote only this machine uses). Every option=value (user, port,
# keyfile, endpointurl, profile, ... see `dvc remote modify --help`) goes into .dvc/config.local.
# Credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_CONNECTION_STRING, an SSH key file) or from
# options written here, never from the committed config. Run inside the project's venv.
set -euo pipefail

die() {
	echo "error: $*" >&2
	exit 1
}

scope=()
if [[ ${1:-} == --local ]]; then
	scope=(--local)
	shift
fi
[[ $# -ge 2 ]] || die "usage: scripts/add-remote.sh [--local] NAME URL [option=value ...]"
name=$1 url=$2
shift 2

case $url in
ssh://*) module=dvc_ssh package=dvc-ssh ;;
s3://*) module=dvc_s3 package=dvc-s3 ;;
gs://*) module=dvc_gs package=dvc-gs==3.1.0 ;;
azure://*) module=dvc_azure package=dvc-azure==3.1.1 ;;
*://*) die "$url: unsupported scheme; use a folder, ssh://, s3://, gs:// or azure://" ;;
*) module="" package="" ;;
esac
if [[ -n $module ]] && ! python -c "import $module" 2>/dev/null; then
	die "${url%%://*}:// remotes need the ${package%%=*} plugin: pip install $package"
fi

for option in "$@"; do
	[[ $option == *=* ]] || die "$option: expected option=value (e.g. port=2222)"
done

dvc remote add "${scope[@]}" --default --force "$name" "$url"
for option in "$@"; do
	dvc remote modify --local "$name" "${option%%=*}" "${option#*=}"
done
echo "remote '$name' -> $url (default); options in .dvc/config.local: ${*:-none}"
