/* Random identifiers: session ids, device ids and secrets, request ids. */
#include "base/random.h"

#include <openssl/rand.h>

char *
fh_random_hex (gsize bytes)
{
  g_autofree guint8 *buf = g_malloc (bytes);
  GString *out = g_string_sized_new (bytes * 2);

  if (RAND_bytes (buf, (int) bytes) != 1)
    g_error ("OpenSSL's random generator failed");
  for (gsize i = 0; i < bytes; i++)
    g_string_append_printf (out, "%02x", buf[i]);
  return g_string_free (out, FALSE);
}
