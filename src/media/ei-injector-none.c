/* The libei injector of a build without libei (-Dlibei=disabled, or no
 * libei-dev: Debian 12 has none, so its package is built without): every
 * event is dropped, and the first one says why. Only the gamescope
 * backend and the Mutter and KWin shared desktops inject through libei. */
#include "media/ei-injector.h"

#include <unistd.h>

struct _FhEiInjector {
  char *name;
  gboolean warned;
};

FhEiInjector *
fh_ei_injector_new (const char *relay_path, const char *runtime_dir, guint width, guint height)
{
  FhEiInjector *self = g_new0 (FhEiInjector, 1);

  self->name = g_strdup (relay_path);
  return self;
}

FhEiInjector *
fh_ei_injector_new_for_fd (int fd, const char *name, guint width, guint height)
{
  FhEiInjector *self = fh_ei_injector_new (name, NULL, width, height);

  if (fd >= 0)
    close (fd);
  return self;
}

void
fh_ei_injector_free (FhEiInjector *self)
{
  if (!self)
    return;
  g_free (self->name);
  g_free (self);
}

void
fh_ei_injector_prefer_region_size (FhEiInjector *self, guint width, guint height)
{
}

void
fh_ei_injector_inject (FhEiInjector *self, const FhInputEvent *event)
{
  if (self->warned)
    return;
  self->warned = TRUE;
  g_warning ("input into %s dropped: this funkhaus was built without libei (install libei-dev, "
             "as scripts/setup.sh does from Debian 13, and rebuild)",
             self->name);
}

gboolean
fh_ei_injector_is_ready (FhEiInjector *self)
{
  return FALSE;
}
