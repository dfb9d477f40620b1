#!/bin/sh
# The build stage of every service image (services/Dockerfile), in one place:
#   build-venv.sh requirements FILE…  /opt/venv with the service's requirements, at the
#                                     versions of /tmp/constraints.txt (the repository's)
#   build-venv.sh finish LIB_DIR      + the shared package, then only what runs is kept
# Two steps so that a change to lib/ does not reinstall every requirement.
set -eu
venv=/opt/venv

case "$1" in
  requirements)
    shift
    for file in "$@"; do
      [ -f "$file" ] || { echo "no requirements at $file: SERVICE names a folder under services/" >&2; exit 2; }
    done
    python -m venv "$venv"
    for file in "$@"; do set -- "$@" -r "$file"; shift; done
    "$venv/bin/pip" install -c /tmp/constraints.txt "$@"
    ;;
  finish)
    "$venv/bin/pip" install --no-deps "$2"
    # The image gets what runs, byte-compiled: no pip or setuptools, no tests or type stubs.
    "$venv/bin/pip" uninstall -q -y pip setuptools
    find "$venv" -depth -type d -name tests -exec rm -rf {} +
    find "$venv" -name '*.pyi' -delete
    vendor=$(echo "$venv"/lib/python3.*/site-packages/mysql/vendor)
    if [ -d "$vendor" ]; then
      # None of mysql-connector's plugins for MySQL Enterprise sign-ins (Kerberos, LDAP,
      # OCI, OpenID Connect, WebAuthn) nor the libraries only they load (27 MB): MariaDB
      # signs our user in with mysql_native_password, the plugin kept.
      rm -r "$vendor/private" "$vendor"/plugin/authentication_*_client.so
      # Its C extension must load, after `ssl` as at run time (it then shares Python's
      # libssl): never the pure-Python protocol behind our back (docs/operations.md).
      # The final stage has the same base, so what loads here loads there.
      "$venv/bin/python" -B -c "import ssl, _mysql_connector, mysql.connector as c; assert c.HAVE_CEXT"
    fi
    ;;
  *) echo "usage: $0 requirements FILE... | finish LIB_DIR" >&2; exit 2 ;;
esac
