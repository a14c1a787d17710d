<?php
/**
 * Plugin Name: ferroban login log
 * Description: Writes one line per failed login to the web server's error log, for ferroban's wordpress-auth-hook jail.
 * Version: 1.0.0
 * License: MIT
 *
 * The line looks like
 *   WP-LOGIN-FAIL user=admin ip=192.0.2.7 ua=Mozilla%2F5.0%20...
 * Everything the visitor chose (user name, user agent) is percent-encoded, so it
 * holds no space and no "ip=": a user name such as "x ip=192.0.2.1" cannot put a
 * second address on the line. The address is the connection's own.
 */

if (!defined('ABSPATH')) {
    exit;
}

/** A visitor-supplied value, shortened and percent-encoded. */
function ferroban_login_log_field($value)
{
    return rawurlencode(substr((string) $value, 0, 200));
}

/** The client address, or "unknown" when REMOTE_ADDR is not an IP address. */
function ferroban_login_log_address()
{
    $ip = isset($_SERVER['REMOTE_ADDR']) ? (string) $_SERVER['REMOTE_ADDR'] : '';
    return filter_var($ip, FILTER_VALIDATE_IP) === false ? 'unknown' : $ip;
}

add_action('wp_login_failed', function ($username) {
    $agent = isset($_SERVER['HTTP_USER_AGENT']) ? $_SERVER['HTTP_USER_AGENT'] : '';
    error_log(sprintf(
        'WP-LOGIN-FAIL user=%s ip=%s ua=%s',
        ferroban_login_log_field($username),
        ferroban_login_log_address(),
        ferroban_login_log_field($agent)
    ));
});
