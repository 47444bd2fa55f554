/* The host's PipeWire connections. The host's own: the user's running
 * PipeWire, or a private stack (pipewire, wireplumber, pipewire-pulse) the
 * host starts in a runtime dir of its own and stops on exit. And one to
 * each stack a session has of its own (fh_pipewire_connect_session), or to
 * a desktop's PipeWire for its video (fh_pipewire_connect). Each loop is a
 * GSource on the main context, so every PipeWire callback runs on the main
 * thread.
 *
 * The host's own also keeps the two "blackhole" nodes (a sink and a source belonging
 * to no session, made the defaults in a private stack, so nothing stray
 * ever lands in a session) and enforces routing: each new playback or
 * recording stream is offered to a router, which names the node it must
 * use (its own session's speaker or microphone); the stream is moved there
 * through WirePlumber's "default" metadata, and destroyed if it refuses to
 * move. */
#pragma once

#include <gio/gio.h>

#include "base/account.h"

typedef struct _FhPipeWire FhPipeWire;
struct pw_core;
struct pw_loop;

typedef enum {
  FH_AUDIO_STREAM_PLAYBACK, /* Stream/Output/Audio: an app that plays */
  FH_AUDIO_STREAM_RECORDING, /* Stream/Input/Audio: an app that records */
} FhAudioStreamKind;

/* Main thread: the node name the stream of process @pid must be linked to,
 * or NULL when it belongs to no session (it is left alone). */
typedef const char *(*FhAudioRouteFunc) (FhAudioStreamKind kind, int pid, gpointer user_data);

/* Connects to the user's PipeWire when one answers and the host is not
 * root (and @force_private is FALSE); otherwise starts a private stack as
 * @account under @runtime_base. Blocks for at most a few seconds. */
FhPipeWire *fh_pipewire_new (FhAccount *account, const char *runtime_base, gboolean force_private,
                             GError **error);
/* A plain connection to the PipeWire at @remote (a socket path, or NULL:
 * the default): for capturing video from a desktop's own PipeWire. No
 * session manager needed, no nodes of the host's, no routing. */
FhPipeWire *fh_pipewire_connect (const char *remote, GError **error);
/* The host's connection to a session's own stack at @remote (its
 * pipewire-0): never blocks (the main loop never waits for a session's
 * stack), so it may be called before the stack's session manager is up.
 * Whenever WirePlumber's "default" metadata appears, it makes @sink_name
 * and @source_name (the session's speaker and microphone, which the caller
 * makes here) the stack's configured default sink and source. No
 * blackholes, no router, no link guard: everything on that stack is the
 * session's own. */
FhPipeWire *fh_pipewire_connect_session (const char *remote, const char *sink_name,
                                         const char *source_name, GError **error);
/* Destroys every node the host made, disconnects, stops a private stack. */
void fh_pipewire_free (FhPipeWire *pw);

struct pw_core *fh_pipewire_get_core (FhPipeWire *pw);
/* Environment (KEY=VALUE) apps need to reach this PipeWire (and its pulse
 * server) from a runtime dir of their own. */
const char *const *fh_pipewire_get_app_env (FhPipeWire *pw);
gboolean fh_pipewire_is_private (FhPipeWire *pw);
/* FALSE once the connection to the daemon was lost. */
gboolean fh_pipewire_is_connected (FhPipeWire *pw);
/* The private stack's folder (its XDG_RUNTIME_DIR), or NULL. */
const char *fh_pipewire_get_private_dir (FhPipeWire *pw);

struct pw_stream;
/* Destroys @stream, which the caller gives up (its listeners removed). A
 * stream still connecting is destroyed once it has settled: PipeWire 0.3
 * leaks the node's transport fds when a stream goes in between. */
void fh_pipewire_destroy_stream (FhPipeWire *pw, struct pw_stream *stream);

void fh_pipewire_set_router (FhPipeWire *pw, FhAudioRouteFunc func, gpointer user_data);

/* The Video/Source node exported by a process that is, or descends from,
 * one of @roots (told by the socket credentials of the node's client), or
 * SPA_ID_INVALID (0xffffffff) when there is none (yet). @n_roots 0: any
 * Video/Source (on a session's own PipeWire, whose nodes are all the
 * session's). */
guint32 fh_pipewire_find_video_source (FhPipeWire *pw, const int *roots, guint n_roots);

/* Main thread: the number of links into node @node_id (for a sink: two for
 * each stereo stream that plays into it), told at once and whenever it
 * changes. @func must not add or remove a watch. */
typedef void (*FhPipeWireInputsFunc) (guint n_links, gpointer user_data);
guint fh_pipewire_watch_inputs (FhPipeWire *pw, guint32 node_id, FhPipeWireInputsFunc func,
                                gpointer user_data);
void fh_pipewire_unwatch_inputs (FhPipeWire *pw, guint watch);

/* Runs the loop until @done returns TRUE or @timeout_ms passes (startup and
 * tests only: never from a callback). */
gboolean fh_pipewire_run_until (FhPipeWire *pw, gboolean (*done) (gpointer), gpointer data,
                                guint timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPipeWire, fh_pipewire_free)

struct spa_pod;
struct spa_pod_builder;
/* The one audio format the host speaks with PipeWire: F32 interleaved,
 * 48 kHz, @channels (1: mono, 2: FL FR). */
const struct spa_pod *fh_pipewire_build_audio_format (struct spa_pod_builder *builder,
                                                      guint channels);
