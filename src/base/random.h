/* Random identifiers, from OpenSSL's CSPRNG. */
#pragma once

#include <glib.h>

/* @bytes random bytes as lowercase hex. */
char *fh_random_hex (gsize bytes);
