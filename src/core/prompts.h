/* Prompts: questions one part of the host puts to the host's user, who
 * answers them somewhere else. A Moonlight client waiting for the PIN it
 * shows (posted by the GameStream plane, answered in a paired browser's
 * console or with 'funkhaus pair --moonlight'); a device asking to join the
 * shared desktop (posted by the web plane, answered with 'funkhaus
 * approve'). The poster says how an answer is carried out; observers (a
 * browser console, the host's stdout) hear every change. */
#pragma once

#include <gio/gio.h>

typedef struct _FhPrompts FhPrompts;
typedef struct _FhPrompt FhPrompt;

typedef enum {
  FH_PROMPT_PIN,  /* type the PIN a client shows */
  FH_PROMPT_JOIN, /* let a device join the shared desktop, or not */
  FH_PROMPT_GUEST, /* let a device join another's session as a guest (at a level) */
} FhPromptKind;

typedef enum {
  FH_PROMPT_WAITING,   /* posted, no answer yet */
  FH_PROMPT_ANSWERED,  /* answered; the outcome is not known yet */
  FH_PROMPT_DONE,      /* it worked (paired, let in) */
  FH_PROMPT_REFUSED,   /* denied */
  FH_PROMPT_FAILED,    /* the answer did not work (a wrong PIN) */
  FH_PROMPT_GONE,      /* its client went away, or was replaced */
  FH_PROMPT_TIMED_OUT, /* nobody answered in time */
} FhPromptState;

const char *fh_prompt_state_to_string (FhPromptState state);

/* Carries out an answer: @approve with @value (the PIN) or not. FALSE with
 * @error when it cannot; the prompt then stays as it is unless the poster
 * ends it. Never called for a prompt that has ended. */
typedef gboolean (*FhPromptAnswerFunc) (FhPrompt *prompt, gboolean approve, const char *value,
                                        gpointer data, GError **error);

/* Told of every prompt that is posted, answered or ends (@detail: why it
 * failed, or what it made: a device id; may be NULL). */
typedef void (*FhPromptObserverFunc) (FhPrompt *prompt, FhPromptState state,
                                      const char *detail, gpointer data);

FhPrompts *fh_prompts_new (void);
/* Ends every prompt that is still open (GONE). */
void fh_prompts_free (FhPrompts *prompts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPrompts, fh_prompts_free)

guint fh_prompts_add_observer (FhPrompts *prompts, FhPromptObserverFunc func, gpointer data);
void fh_prompts_remove_observer (FhPrompts *prompts, guint id);

/* A part of the host that posts prompts of @kind (and whether any part
 * does): @idle_message is the error an answer gets while none is waiting
 * ("no Moonlight client is waiting for a PIN: …"). */
void fh_prompts_add_poster (FhPrompts *prompts, FhPromptKind kind, const char *idle_message);
void fh_prompts_remove_poster (FhPrompts *prompts, FhPromptKind kind);
gboolean fh_prompts_has_poster (FhPrompts *prompts, FhPromptKind kind);

/* Posts a prompt (WAITING) about @who (a client's name, a device id) from
 * @from (its address, or NULL). @timeout_s is how long the poster waits
 * for an answer, for those who show the prompt (the poster ends it as
 * TIMED_OUT). The prompt belongs to @prompts; the poster keeps the pointer
 * until it ends the prompt. */
FhPrompt *fh_prompts_post (FhPrompts *prompts, FhPromptKind kind, const char *who,
                           const char *from, guint timeout_s, FhPromptAnswerFunc answer,
                           gpointer data);

/* As fh_prompts_post, about something (a guest's: the id of the session
 * it asks to join), which those who show it read with fh_prompt_get_about. */
FhPrompt *fh_prompts_post_about (FhPrompts *prompts, FhPromptKind kind, const char *who,
                                 const char *from, const char *about, guint timeout_s,
                                 FhPromptAnswerFunc answer, gpointer data);

/* The oldest prompt of @kind still WAITING, or NULL. */
FhPrompt *fh_prompts_find_waiting (FhPrompts *prompts, FhPromptKind kind);
FhPrompt *fh_prompts_lookup (FhPrompts *prompts, const char *id);
/* "ID device WHO at FROM" of every WAITING prompt of @kind, "; " between them, or "". */
char *fh_prompts_list (FhPrompts *prompts, FhPromptKind kind);

/* Answers @prompt: the poster's @answer carries it out, and may end the
 * prompt at once (a join approved or denied); a prompt it leaves open goes
 * WAITING → ANSWERED (a PIN being checked). */
gboolean fh_prompt_answer (FhPrompt *prompt, gboolean approve, const char *value,
                           GError **error);
/* Answers the one prompt of @kind that waits, setting @who to whom it
 * was about. G_IO_ERROR_NOT_FOUND when none waits, NOT_SUPPORTED when
 * nothing on this host posts such prompts. */
gboolean fh_prompts_answer_waiting (FhPrompts *prompts, FhPromptKind kind, gboolean approve,
                                    const char *value, char **who, GError **error);
/* The poster says how it ended; the prompt is gone afterwards. */
void fh_prompt_end (FhPrompt *prompt, FhPromptState state, const char *detail);

const char *fh_prompt_get_id (FhPrompt *prompt);
FhPromptKind fh_prompt_get_kind (FhPrompt *prompt);
const char *fh_prompt_get_who (FhPrompt *prompt);
const char *fh_prompt_get_from (FhPrompt *prompt);
const char *fh_prompt_get_about (FhPrompt *prompt); /* or NULL */
guint fh_prompt_get_timeout (FhPrompt *prompt);
FhPromptState fh_prompt_get_state (FhPrompt *prompt);

/* "pin", "join": how a page or a command line names a kind. */
const char *fh_prompt_kind_to_string (FhPromptKind kind);
/* Every prompt still WAITING, of any kind, oldest first (container only:
 * the prompts stay @prompts'; use them before anything can end one). */
GPtrArray *fh_prompts_list_waiting (FhPrompts *prompts);
