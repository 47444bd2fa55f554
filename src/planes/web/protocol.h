/* The web plane's wire format: pure parse and build functions, one place
 * per message type. Nothing here touches a socket; see docs/protocol.md. */
#pragma once

#include <glib.h>

#include "base/mode.h"
#include "base/stats.h"
#include "media/clipboard.h"
#include "media/event.h"
#include "media/pad.h"

#define FH_PROTOCOL_VERSION 1

#define FH_PROTO_MAX_INCOMING 65536 /* libsoup max-incoming-payload-size */
#define FH_PROTO_MAX_TEXT 4096
#define FH_PROTO_MAX_CREDENTIAL 128
#define FH_PROTO_MAX_KEY_CODE 32
#define FH_PROTO_MAX_CODECS 16
#define FH_PROTO_MAX_NAME 64
#define FH_PROTO_MAX_MOONLIGHT_PIN 16 /* the PIN is 4 digits; the host says so */
#define FH_PROTO_MAX_JOIN_CODE 6
#define FH_PROTO_MAX_REQUEST_ID 16
#define FH_PROTO_MAX_ID 64 /* a session's or a prompt's id in an owner request */
#define FH_PROTO_MAX_TIME 40 /* an ISO 8601 time in an owner request */
#define FH_PROTO_MAX_DURATION 16 /* a duration ("2h") in an owner request */
/* Binary messages (input, microphone) a client may send: a sustained rate
 * and a burst on top. A 1000 Hz mouse and a fast typist stay far below. */
#define FH_PROTO_MAX_INPUT_RATE 2000
#define FH_PROTO_MAX_INPUT_BURST 1000
/* A client that takes no video for this long is cut off (too-slow). */
#define FH_PROTO_TOO_SLOW_S 10

#define FH_PROTO_VIDEO_HEADER_SIZE 20
#define FH_PROTO_AUDIO_HEADER_SIZE 16
#define FH_PROTO_MIC_HEADER_SIZE 8
#define FH_PROTO_MAX_MIC_PAYLOAD 1275 /* the largest Opus packet */
#define FH_PROTO_MAX_PADS 4 /* a client's gamepads: numbers 0–3 */
#define FH_PROTO_MAX_CLIPBOARD FH_CLIPBOARD_MAX_TEXT /* bytes of clipboard text */
#define FH_PROTO_PAD_STATE_SIZE 16
#define FH_PROTO_ACK_SIZE 5
/* The web client acks frames in pairs (docs/protocol.md, ack; ACK_DELAY_MS
 * in web/protocol.js): at once the second frame that waits, or one that
 * comes this long or more after the last ack went; else this long after it
 * came (fh_proto_ack_at_once). The host takes any acks; fh-bench-client
 * and the flow tests' clients ack as the browser does. */
#define FH_PROTO_ACK_DELAY_MS 20

typedef enum {
  FH_PROTO_KIND_VIDEO = 0x01,
  FH_PROTO_KIND_AUDIO = 0x02,
  FH_PROTO_KIND_KEY = 0x10,
  FH_PROTO_KIND_POINTER_MOTION = 0x11,
  FH_PROTO_KIND_POINTER_BUTTON = 0x12,
  FH_PROTO_KIND_SCROLL = 0x13,
  FH_PROTO_KIND_PAD_STATE = 0x14,
  FH_PROTO_KIND_PAD_CONNECT = 0x15,
  FH_PROTO_KIND_PAD_DISCONNECT = 0x16,
  FH_PROTO_KIND_MIC = 0x20,
  FH_PROTO_KIND_ACK = 0x30,
} FhProtoKind;

typedef enum {
  FH_PROTO_ERROR_BAD_MESSAGE,
  FH_PROTO_ERROR_UNAUTHORIZED,
  FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
  FH_PROTO_ERROR_UNSUPPORTED,
  FH_PROTO_ERROR_SESSION_FAILED,
  FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
  FH_PROTO_ERROR_HELLO_TIMEOUT,
  FH_PROTO_ERROR_REPLACED,
  FH_PROTO_ERROR_RATE_LIMITED,
  FH_PROTO_ERROR_HOST_SHUTDOWN,
  FH_PROTO_ERROR_TOO_SLOW, /* took no frame for FH_PROTO_TOO_SLOW_S seconds */
  FH_PROTO_ERROR_REFUSED,  /* a guest: no such join code, not let in, or removed */
  FH_PROTO_ERROR_ENDED, /* the host's owner ended the session */
} FhProtoError;

#define FH_PROTO_ERROR (fh_proto_error_quark ())
GQuark fh_proto_error_quark (void);

/* "bad-message" etc., as sent in an error message. */
const char *fh_proto_error_to_string (FhProtoError code);
/* The WebSocket close code that goes with @code. */
guint16 fh_proto_error_close_code (FhProtoError code);


typedef enum {
  FH_CLIENT_MESSAGE_HELLO,
  FH_CLIENT_MESSAGE_KEYFRAME,
  FH_CLIENT_MESSAGE_PING,
  FH_CLIENT_MESSAGE_CONSOLE,       /* first message of a console (no session) */
  FH_CLIENT_MESSAGE_MOONLIGHT_PIN, /* the PIN a waiting Moonlight client shows */
  FH_CLIENT_MESSAGE_ACK,           /* frames up to this one are decoded (or dropped) */
  FH_CLIENT_MESSAGE_CLIPBOARD,     /* text the client's clipboard holds */
  FH_CLIENT_MESSAGE_GUEST_ANSWER,  /* a session's client lets a guest in, or not */
  FH_CLIENT_MESSAGE_GUEST,         /* … changes a guest's level, or removes it */
  FH_CLIENT_MESSAGE_OWNER,         /* a request of the owner's page (console) */
} FhClientMessageType;

/* What an owner message asks for (docs/protocol.md, "Owner"). */
typedef enum {
  FH_OWNER_OP_STATE,       /* the sessions, devices and requests now */
  FH_OWNER_OP_END_SESSION, /* session */
  FH_OWNER_OP_REVOKE,      /* device */
  FH_OWNER_OP_LEVEL,       /* device, level, until or for */
  FH_OWNER_OP_OWNER,       /* device, owner */
  FH_OWNER_OP_NEW_PIN,     /* a pairing PIN for a browser */
  FH_OWNER_OP_APPROVE,     /* request [, value] */
  FH_OWNER_OP_DENY,        /* request */
} FhOwnerOp;

/* "state", "end-session", …: as on the wire. */
const char *fh_owner_op_to_string (FhOwnerOp op);

typedef struct {
  FhClientMessageType type;
  /* hello and console */
  guint protocol;
  char *device;
  char *token;
  /* hello */
  FhMode mode;
  guint codecs; /* FhCodec bits the client named and we know */
  guint bitrate_kbps; /* 0 = host default */
  char *resume; /* NULL = new session */
  char *layout; /* xkb keyboard layout, NULL = host default */
  gboolean mic; /* the client will send its microphone */
  gboolean shared; /* "desktop": "shared": a view of the shared desktop */
  guint app; /* "app": an id of the host's app list; 0 = the host's default */
  gboolean acks; /* the client acknowledges frames (ack messages) */
  gboolean clipboard; /* the client shares its clipboard with the session */
  /* ack */
  guint ack_frame;
  /* ping */
  double ping_t;
  /* moonlight-pin: any string up to FH_PROTO_MAX_MOONLIGHT_PIN bytes; its
   * format (4 digits) is the host's to check, with an answer that does not
   * close the connection */
  char *pin;
  /* clipboard: UTF-8, at most FH_PROTO_MAX_CLIPBOARD bytes */
  char *text;
  /* hello: the join code of another device's session to join as a guest
   * (digits, at most FH_PROTO_MAX_JOIN_CODE); NULL = a session of its own */
  char *join;
  /* guest-answer: the request, whether to let it in, at which level */
  char *request;
  gboolean approve;
  /* guest-answer and guest: "full", "controller" or "view" (NULL: left out) */
  char *level;
  /* guest: which guest (> 0), and whether to remove it */
  guint guest;
  gboolean remove;
  /* owner: what the members that go with the op hold (NULL: not sent).
   * The ids are only checked for length: the host looks them up. */
  FhOwnerOp owner_op;
  char *owner_session; /* end-session */
  char *owner_device;  /* revoke, level, owner */
  char *owner_request; /* approve, deny */
  char *owner_value;   /* approve: the PIN a pin request needs */
  char *owner_level;   /* level: "full", "controller" or "view" */
  char *owner_until;   /* level: ISO 8601 (the host parses it), or NULL */
  char *owner_for;     /* level: a duration ("2h"), or NULL; not with until */
  gboolean owner_right; /* owner: give the right (TRUE) or take it */
} FhClientMessage;

void fh_client_message_clear (FhClientMessage *msg);

/* Parses one text message. @data need not be NUL-terminated. On failure
 * sets an FH_PROTO_ERROR and leaves @msg cleared. */
gboolean fh_proto_parse_text (const char *data, gsize len, FhClientMessage *msg, GError **error);

/* Checks a mode against the limits in docs/protocol.md. */
gboolean fh_proto_check_mode (const FhMode *mode, GError **error);

/* Parses one binary message from a client. A key whose code the host does
 * not know parses fine with key.code == 0. */
gboolean fh_proto_parse_input (const guint8 *data, gsize len, FhInputEvent *event,
                               GError **error);

/* Serializes @event into @out (at least 3 + FH_PROTO_MAX_KEY_CODE bytes);
 * a key is written by its DOM code @dom_code. Returns the length. For tests
 * and the benchmark client. */
gsize fh_proto_write_input (const FhInputEvent *event, const char *dom_code, guint8 *out);

/* A gamepad message: one of the client's pads arrived, changed or left. */
typedef enum {
  FH_PAD_MESSAGE_CONNECT,
  FH_PAD_MESSAGE_STATE,
  FH_PAD_MESSAGE_DISCONNECT,
} FhPadMessageType;

typedef struct {
  FhPadMessageType type;
  guint index; /* < FH_PROTO_MAX_PADS */
  FhPadKind kind; /* connect */
  FhPadState state; /* state */
} FhPadMessage;

/* TRUE when @data is a gamepad message (by its kind byte; it may still be
 * malformed). */
gboolean fh_proto_is_pad (const guint8 *data, gsize len);
/* Parses a binary message of kind FH_PROTO_KIND_PAD_*. */
gboolean fh_proto_parse_pad (const guint8 *data, gsize len, FhPadMessage *msg, GError **error);
/* Serializes @msg into @out (FH_PROTO_PAD_STATE_SIZE bytes at least);
 * returns the length. For tests and the benchmark client. */
gsize fh_proto_write_pad (const FhPadMessage *msg, guint8 *out);

/* Host → client: an app of the session copied @text. */
char *fh_proto_build_clipboard (const char *text, gsize len);

/* Host → client: an app set the rumble of the client's pad @index. */
char *fh_proto_build_rumble (guint index, const FhPadRumble *rumble);

/* A microphone packet: one Opus packet of the client's microphone. */
typedef struct {
  guint32 sequence;
  const guint8 *data; /* points into the message */
  gsize size;
} FhMicPacket;

/* Parses a binary message of kind FH_PROTO_KIND_MIC. */
gboolean fh_proto_parse_mic (const guint8 *data, gsize len, FhMicPacket *packet, GError **error);
/* The binary mic message for @packet (tests and the benchmark client). */
GBytes *fh_proto_build_mic (const FhMicPacket *packet);

/* Parses a binary message of kind FH_PROTO_KIND_ACK: every video frame
 * up to @frame has arrived (the text `ack`'s meaning, without its JSON). */
gboolean fh_proto_parse_ack (const guint8 *data, gsize len, guint32 *frame, GError **error);
/* The binary ack of @frame into @out (tests and the benchmark client). */
void fh_proto_write_ack (guint32 frame, guint8 out[FH_PROTO_ACK_SIZE]);
/* Whether a client acking as the web client does (ackAtOnce in
 * web/protocol.js) acks now, with @waiting frames not acked yet (the one
 * that just came counted) and the last ack @since_last_ack_us ago
 * (G_MAXINT64: none yet); else it acks FH_PROTO_ACK_DELAY_MS after the
 * first of them came (tests and the benchmark client). */
gboolean fh_proto_ack_at_once (guint waiting, gint64 since_last_ack_us);

/* Host → client audio: one Opus packet of the session's speaker. */
GBytes *fh_proto_build_audio (guint32 sequence, guint64 capture_us, const guint8 *data,
                              gsize size);

/* Pairing request body: {"pin", "name"}. */
gboolean fh_proto_parse_pair_request (const char *data, gsize len, char **pin, char **name,
                                      GError **error);

typedef struct {
  gboolean keyframe;
  guint32 frame;
  guint64 capture_us;
  guint32 encode_us;
} FhVideoHeader;

void fh_proto_write_video_header (const FhVideoHeader *header,
                                  guint8 out[FH_PROTO_VIDEO_HEADER_SIZE]);
gboolean fh_proto_parse_video_header (const guint8 *data, gsize len, FhVideoHeader *header,
                                      GError **error);

/* Host → client JSON messages. */
char *fh_proto_build_error (FhProtoError code, const char *message);
char *fh_proto_build_state (const char *state, const char *reason);
char *fh_proto_build_pong (double t);

/* Host → console: the apps a client may pick (docs/protocol.md, "Apps"). */
typedef struct {
  guint id;
  const char *name;
  gboolean shared;         /* a view of the shared desktop */
  const char *unavailable; /* why it cannot start here, or NULL */
} FhProtoApp;
char *fh_proto_build_apps (const FhProtoApp *apps, guint n_apps);

/* A console's view of Moonlight pairing: @state is "off", "idle",
 * "waiting", "checking" (PIN entered) or an FhGsPairEvent after it
 * ("gone", "timed-out", "failed", "paired"); @client the Moonlight
 * client's name, @message why it failed, @device its id once paired (each
 * NULL = left out). */
char *fh_proto_build_moonlight (const char *state, const char *client, const char *message,
                                const char *device);
/* A moonlight-pin that could not be used ("bad-pin", "no-client", "off",
 * "failed"); the connection stays open. */
char *fh_proto_build_moonlight_pin_error (const char *code, const char *message);

typedef struct {
  const char *session;
  gboolean resumed;
  FhMode mode;
  FhCodec codec;
  guint bitrate_kbps;
  guint grace_seconds;
  const char *backend;
  const guint8 *background; /* [r, g, b] or NULL */
  gboolean audio; /* the session has a speaker (Opus, 48 kHz stereo, 10 ms) */
  gboolean mic; /* … and takes the client's microphone */
  gboolean clipboard; /* the client shares the session's clipboard */
  /* Its device's access level ("full", "controller", "view"; NULL = left
   * out) and when it falls back to view (ISO 8601, NULL = never). */
  const char *access_level;
  const char *access_until;
  /* The code another device names to join as a guest (NULL: none, or
   * this client is a guest itself), and whether it is one. */
  const char *join_code;
  gboolean guest;
} FhWelcome;

char *fh_proto_build_welcome (const FhWelcome *welcome);

/* Host → a session's client: its guests, and a device that asks to join
 * (@state "waiting", or how the request ended: "done", "refused", "gone",
 * "timed-out"). Names may be NULL. */
typedef struct {
  guint id;
  const char *device;
  const char *name;
  const char *level;   /* what judges its input now */
  const char *granted; /* what the session's client grants */
} FhProtoGuest;
char *fh_proto_build_guests (const FhProtoGuest *guests, guint n_guests);
char *fh_proto_build_guest_request (const char *request, const char *device, const char *name,
                                    const char *state);
/* {"type":"access","level":…,"until":…|null}: the level changed. */
char *fh_proto_build_access (const char *level, const char *until);


char *fh_proto_build_stats (const FhStreamStats *stats);

/* Host → an owner's console (docs/protocol.md, "Owner"). */

/* {"type":"owner","owner":…}: this device holds the owner right (or lost it). */
char *fh_proto_build_owner (gboolean owner);

typedef struct {
  const char *id;
  const char *device;
  const char *device_name; /* NULL: left null */
  FhMode mode;
  double fps;  /* frames sent over the last second */
  double kbps; /* video sent over the last second */
  const char *backend;
  const char *plane; /* "" before a peer was bound */
  const char *state;
  const char *const *guests; /* NULL-terminated, or NULL for none */
} FhProtoOwnerSession;

typedef struct {
  const char *id;
  const char *name; /* NULL: left null */
  const char *kind;
  const char *level; /* effective now */
  const char *until; /* ISO 8601, NULL = never */
  gboolean owner;
} FhProtoOwnerDevice;

typedef struct {
  const char *id;
  const char *kind; /* "pin", "join", … */
  const char *who;
  const char *from; /* NULL: left null */
  guint timeout_s;
} FhProtoOwnerRequest;

char *fh_proto_build_owner_state (const FhProtoOwnerSession *sessions, guint n_sessions,
                                  const FhProtoOwnerDevice *devices, guint n_devices,
                                  const FhProtoOwnerRequest *requests, guint n_requests);
char *fh_proto_build_owner_done (FhOwnerOp op);
char *fh_proto_build_owner_error (FhOwnerOp op, const char *message);
char *fh_proto_build_owner_pin (const char *pin);
