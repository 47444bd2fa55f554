/* The control stream of the test client, as moonlight-common-c's
 * ControlStream.c runs it against Sunshine: an ENet client with 0x30
 * channels connecting with the X-SS-Connect-Data, every message sealed as
 * encrypted control v2 (stream-crypto.h), the startup messages, a ping
 * every 100 ms, and input packets on the input channels. */
#pragma once

#include <glib.h>

#include "planes/gamestream/protocol/control-stream.h"

typedef struct _GsControl GsControl;

/* Connects (waiting up to @timeout_ms) and sends Start A and Start B. */
GsControl *gs_control_connect (const char *addr, guint port, guint32 connect_data,
                               const guint8 key[16], guint timeout_ms, GError **error);
/* Sends one message; @reliable as Moonlight flags it. */
gboolean gs_control_send (GsControl *c, guint16 type, const guint8 *payload, gsize len,
                          guint8 channel, gboolean reliable, GError **error);
gboolean gs_control_send_bytes (GsControl *c, guint16 type, GBytes *payload, guint8 channel,
                                gboolean reliable, GError **error);
/* Services ENet for up to @wait_ms: receives the host's messages, sends the
 * periodic ping when due. FALSE with @error when the host went away or sent
 * something that does not decrypt. */
gboolean gs_control_service (GsControl *c, guint wait_ms, GError **error);
/* The host sent the termination message (its reason in *reason). */
gboolean gs_control_terminated (const GsControl *c, guint32 *reason);
guint gs_control_messages_received (const GsControl *c);
/* Called for every rumble message the host sends. */
typedef void (*GsRumbleFunc) (guint16 controller, guint16 low_freq, guint16 high_freq,
                              gpointer user_data);
void gs_control_set_rumble_func (GsControl *c, GsRumbleFunc func, gpointer user_data);
/* Disconnects gracefully (waits up to 1 s for the host's ack) and frees. */
void gs_control_disconnect (GsControl *c);
