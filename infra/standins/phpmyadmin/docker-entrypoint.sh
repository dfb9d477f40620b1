#!/usr/bin/env bash
# Make the secret phpMyAdmin encrypts its cookies with, once per container (never
# in the image), then run the command: by default PHP's built-in server on port 80.
set -euo pipefail
secret=/var/lib/phpmyadmin/blowfish_secret.inc.php
if [ ! -s "$secret" ]; then
  umask 077
  printf "<?php\n\$cfg['blowfish_secret'] = sodium_hex2bin('%s');\n" \
    "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$secret"
fi
exec "$@"
