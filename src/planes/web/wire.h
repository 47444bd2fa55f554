/* A browser client's way out, shared by two threads. libsoup's
 * SoupWebsocketConnection runs on the main thread over this stream: its
 * messages and control frames (text, audio, pings, the close) go through
 * it. A session's stream thread writes each video frame through it at
 * once (fh_web_wire_send_binary), on the thread that encoded the frame,
 * rather than waking the main thread for every frame.
 *
 * Every write is taken whole and at once: what the socket does not take
 * waits in the wire, in order, and goes out from the main context as the
 * socket takes it. libsoup writes each of its frames in one call from the
 * frame's first byte, and so does fh_web_wire_send_binary under the same
 * lock, so frames of the two never interleave. What waits is bounded by
 * the peer's flow control (flow.h), which counts it (fh_web_wire_get_waiting).
 *
 * Input is the stolen stream's, read by libsoup alone on the main thread,
 * but libsoup waits for it on a source of the wire's that holds no
 * descriptor: the wire keeps the socket's in the main context while
 * libsoup reads (a watch that is never dispatched), and the source is
 * ready when the last poll found the socket readable, or when a read may
 * find data the TLS layer already took off it (until a read would block:
 * libsoup 3.2 reads until then before it waits again). libsoup makes a new
 * source for every read, and GLib 2.74 wakes its context whenever a
 * descriptor joins or leaves it: with the stream's own sources that was
 * one more round of the main loop (a poll of every descriptor, a check of
 * every source) for every ack and input event. */
#pragma once

#include <gio/gio.h>

/* Bytes a caller of fh_web_wire_send_binary leaves free in front of the
 * payload: the WebSocket frame header goes there. */
#define FH_WEB_WIRE_HEADER_MAX 10

#define FH_TYPE_WEB_WIRE (fh_web_wire_get_type ())
G_DECLARE_FINAL_TYPE (FhWebWire, fh_web_wire, FH, WEB_WIRE, GIOStream)

/* Main thread: wraps @base, the connection libsoup handed over after the
 * WebSocket handshake (soup_server_message_steal_connection), over
 * @socket (NULL: not known; libsoup then waits for input on @base's own
 * sources); what waits is written out from @context, and input is waited
 * for there. */
FhWebWire *fh_web_wire_new (GIOStream *base, GSocket *socket, GMainContext *context);

/* Any thread: one binary WebSocket message (a server's, unmasked) of
 * @size bytes at @payload, whose FH_WEB_WIRE_HEADER_MAX bytes before it
 * are the caller's to overwrite. Returns FALSE when nothing more may go
 * out: the close frame went, the wire was closed, or the socket failed. */
gboolean fh_web_wire_send_binary (FhWebWire *wire, guint8 *payload, gsize size);

/* Any thread: bytes written to the wire that the socket has not taken. */
gsize fh_web_wire_get_waiting (FhWebWire *wire);
