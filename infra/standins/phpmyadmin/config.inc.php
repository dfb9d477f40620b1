<?php
// phpMyAdmin's configuration in the stand-in: the official image's environment
// variables, the subset the project uses (infra/compose.yml's phpmyadmin service).
//   PMA_HOST, PMA_PORT   the server (default db:3306)
//   PMA_USER, PMA_PASSWORD   when PMA_USER is set: config authentication, logged in as
//                        that user; otherwise phpMyAdmin's login form (cookie)
//   PMA_ARBITRARY=1      the login form may name any server
//   PMA_ABSOLUTE_URI     the address phpMyAdmin is reached at, behind a proxy
declare(strict_types=1);

require '/var/lib/phpmyadmin/blowfish_secret.inc.php';  // written by docker-entrypoint.sh

$env = static fn (string $name): ?string => getenv($name) === false ? null : getenv($name);

$i = 1;
$cfg['Servers'][$i]['host'] = $env('PMA_HOST') ?: 'db';
if ($env('PMA_PORT')) {
    $cfg['Servers'][$i]['port'] = $env('PMA_PORT');
}
if ($env('PMA_USER') !== null) {
    $cfg['Servers'][$i]['auth_type'] = 'config';
    $cfg['Servers'][$i]['user'] = $env('PMA_USER');
    $cfg['Servers'][$i]['password'] = $env('PMA_PASSWORD') ?? '';
} else {
    $cfg['Servers'][$i]['auth_type'] = 'cookie';
}
$cfg['Servers'][$i]['compress'] = false;
$cfg['Servers'][$i]['AllowNoPassword'] = true;

if ($env('PMA_ARBITRARY') === '1') {
    $cfg['AllowArbitraryServer'] = true;
}
if ($env('PMA_ABSOLUTE_URI')) {
    $cfg['PmaAbsoluteUri'] = trim($env('PMA_ABSOLUTE_URI'));
}

$cfg['UploadDir'] = '';
$cfg['SaveDir'] = '';
