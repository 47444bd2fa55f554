#include "core/encoder-threads.h"

guint
fh_encoder_threads (guint configured, guint cores, guint running, guint width, guint height,
                    guint fps)
{
  guint64 pixels = (guint64) width * height * fps;
  guint share, needed;

  if (configured)
    return configured;
  cores = MAX (cores, 1u);
  share = MAX (1u, cores / (running + 1));
  needed = (guint) ((pixels + FH_ENCODER_PIXELS_PER_THREAD - 1) / FH_ENCODER_PIXELS_PER_THREAD);
  return CLAMP (MAX (share, needed), 1u, cores);
}
