/* Process ancestry and environment, read from /proc. */
#include "host/process.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* more than any real process tree; ends loops */

pid_t
fh_process_get_parent (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  char *after;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* "pid (comm) state ppid …"; comm may hold spaces and parentheses. */
  after = strrchr (text, ')');
  if (!after || strlen (after) < 5)
    return -1;
  return (pid_t) strtol (after + 4, NULL, 10);
}

char *
fh_process_get_env (pid_t pid, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *text = NULL;
  gsize len, key_len = strlen (key);

  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i += strlen (text + i) + 1) {
    if (strncmp (text + i, key, key_len) == 0 && text[i + key_len] == '=')
      return g_strdup (text + i + key_len + 1);
  }
  return NULL;
}

gboolean
fh_process_descends_from (pid_t pid, const pid_t *roots, guint n_roots)
{
  for (guint depth = 0; pid > 1 && depth < MAX_DEPTH; depth++) {
    for (guint i = 0; i < n_roots; i++) {
      if (roots[i] > 0 && roots[i] == pid)
        return TRUE;
    }
    pid = fh_process_get_parent (pid);
  }
  return FALSE;
}

char *
fh_process_find_session_marker (pid_t pid)
{
  for (guint depth = 0; pid > 1 && depth < MAX_DEPTH; depth++) {
    char *marker = fh_process_get_env (pid, "FUNKHAUS_SESSION");
    if (marker)
      return marker;
    pid = fh_process_get_parent (pid);
  }
  return NULL;
}
