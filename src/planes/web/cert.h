/* The host's own TLS certificate: made on first start, reused after. */
#pragma once

#include <gio/gio.h>

/* Loads cert.pem and key.pem from @config_dir, making them (0600) first
 * when missing. Returns the certificate and sets @fingerprint to its
 * SHA-256 fingerprint ("AB:CD:…"). */
GTlsCertificate *fh_cert_load_or_create (const char *config_dir, char **fingerprint,
                                         gboolean *created, GError **error);
