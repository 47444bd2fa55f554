/* Prompts that cross planes: posted by one part of the host, shown and
 * answered by another. */
#include "core/prompts.h"

#include "base/random.h"

struct _FhPrompt {
  FhPrompts *prompts;
  char *id;
  FhPromptKind kind;
  char *who;
  char *from;
  char *about; /* a guest's: the session it asks to join */
  guint timeout_s;
  FhPromptState state;
  FhPromptAnswerFunc answer;
  gpointer data;
  gboolean answering; /* inside fh_prompt_answer: ended ones wait for it */
  gboolean telling;   /* observers are being told of it */
  gboolean ended;
};

typedef struct {
  guint id;
  FhPromptObserverFunc func;
  gpointer data;
} FhPromptObserver;

struct _FhPrompts {
  GPtrArray *open;      /* FhPrompt, owned */
  GArray *observers;    /* FhPromptObserver */
  guint next_observer;
  char *idle_message[FH_PROMPT_GUEST + 1]; /* per FhPromptKind; NULL: nobody posts that kind */
};

const char *
fh_prompt_state_to_string (FhPromptState state)
{
  switch (state) {
  case FH_PROMPT_WAITING:
    return "waiting";
  case FH_PROMPT_ANSWERED:
    return "answered";
  case FH_PROMPT_DONE:
    return "done";
  case FH_PROMPT_REFUSED:
    return "refused";
  case FH_PROMPT_FAILED:
    return "failed";
  case FH_PROMPT_GONE:
    return "gone";
  case FH_PROMPT_TIMED_OUT:
    return "timed-out";
  }
  return "unknown";
}

static void
prompt_free (FhPrompt *prompt)
{
  g_free (prompt->id);
  g_free (prompt->who);
  g_free (prompt->from);
  g_free (prompt->about);
  g_free (prompt);
}

FhPrompts *
fh_prompts_new (void)
{
  FhPrompts *self = g_new0 (FhPrompts, 1);

  self->open = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_free);
  self->observers = g_array_new (FALSE, FALSE, sizeof (FhPromptObserver));
  return self;
}

void
fh_prompts_free (FhPrompts *self)
{
  if (!self)
    return;
  while (self->open->len > 0)
    fh_prompt_end (self->open->pdata[0], FH_PROMPT_GONE, "the host is stopping");
  g_ptr_array_unref (self->open);
  g_array_unref (self->observers);
  for (gsize i = 0; i < G_N_ELEMENTS (self->idle_message); i++)
    g_free (self->idle_message[i]);
  g_free (self);
}

guint
fh_prompts_add_observer (FhPrompts *self, FhPromptObserverFunc func, gpointer data)
{
  FhPromptObserver o = { ++self->next_observer, func, data };

  g_array_append_val (self->observers, o);
  return o.id;
}

void
fh_prompts_remove_observer (FhPrompts *self, guint id)
{
  for (guint i = 0; i < self->observers->len; i++) {
    if (g_array_index (self->observers, FhPromptObserver, i).id == id) {
      g_array_remove_index (self->observers, i);
      return;
    }
  }
}

/* An observer may remove itself (or another) while it is told, but not
 * answer or end the prompt it is told of (fh_prompt_answer and
 * fh_prompt_end refuse that). */
static void
notify (FhPrompts *self, FhPrompt *prompt, const char *detail)
{
  g_autoptr (GArray) observers = g_array_copy (self->observers);
  gboolean telling = prompt->telling;

  for (guint i = 0; i < observers->len; i++) {
    FhPromptObserver *o = &g_array_index (observers, FhPromptObserver, i);
    gboolean still = FALSE;
    for (guint j = 0; j < self->observers->len && !still; j++)
      still = g_array_index (self->observers, FhPromptObserver, j).id == o->id;
    if (still) {
      prompt->telling = TRUE;
      o->func (prompt, prompt->state, detail, o->data);
      prompt->telling = telling;
    }
  }
}

void
fh_prompts_add_poster (FhPrompts *self, FhPromptKind kind, const char *idle_message)
{
  g_free (self->idle_message[kind]);
  self->idle_message[kind] = g_strdup (idle_message);
}

void
fh_prompts_remove_poster (FhPrompts *self, FhPromptKind kind)
{
  g_clear_pointer (&self->idle_message[kind], g_free);
}

gboolean
fh_prompts_has_poster (FhPrompts *self, FhPromptKind kind)
{
  return self->idle_message[kind] != NULL;
}

FhPrompt *
fh_prompts_post (FhPrompts *self, FhPromptKind kind, const char *who, const char *from,
                 guint timeout_s, FhPromptAnswerFunc answer, gpointer data)
{
  return fh_prompts_post_about (self, kind, who, from, NULL, timeout_s, answer, data);
}

FhPrompt *
fh_prompts_post_about (FhPrompts *self, FhPromptKind kind, const char *who, const char *from,
                       const char *about, guint timeout_s, FhPromptAnswerFunc answer,
                       gpointer data)
{
  FhPrompt *prompt = g_new0 (FhPrompt, 1);

  prompt->prompts = self;
  prompt->id = fh_random_hex (3);
  prompt->kind = kind;
  prompt->who = g_strdup (who);
  prompt->from = g_strdup (from);
  prompt->about = g_strdup (about);
  prompt->timeout_s = timeout_s;
  prompt->state = FH_PROMPT_WAITING;
  prompt->answer = answer;
  prompt->data = data;
  g_ptr_array_add (self->open, prompt);
  notify (self, prompt, NULL);
  return prompt;
}

FhPrompt *
fh_prompts_find_waiting (FhPrompts *self, FhPromptKind kind)
{
  for (guint i = 0; i < self->open->len; i++) {
    FhPrompt *prompt = self->open->pdata[i];
    if (prompt->kind == kind && prompt->state == FH_PROMPT_WAITING && !prompt->ended)
      return prompt;
  }
  return NULL;
}

FhPrompt *
fh_prompts_lookup (FhPrompts *self, const char *id)
{
  for (guint i = 0; i < self->open->len; i++) {
    FhPrompt *prompt = self->open->pdata[i];
    if (g_str_equal (prompt->id, id) && !prompt->ended)
      return prompt;
  }
  return NULL;
}

char *
fh_prompts_list (FhPrompts *self, FhPromptKind kind)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < self->open->len; i++) {
    FhPrompt *p = self->open->pdata[i];
    if (p->kind != kind || p->state != FH_PROMPT_WAITING || p->ended)
      continue;
    g_string_append_printf (out, "%s%s device %s at %s", out->len ? "; " : "", p->id, p->who,
                            p->from ? p->from : "?");
    if (p->about)
      g_string_append_printf (out, " for session %.8s", p->about);
  }
  return g_string_free (out, FALSE);
}

static void
finish (FhPrompt *prompt)
{
  g_ptr_array_remove (prompt->prompts->open, prompt); /* frees it */
}

gboolean
fh_prompt_answer (FhPrompt *self, gboolean approve, const char *value, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (!self->ended && !self->answering && !self->telling, FALSE);
  self->answering = TRUE;
  ok = self->answer (self, approve, value, self->data, error);
  self->answering = FALSE;
  if (self->ended) {
    finish (self);
    return ok;
  }
  if (ok && self->state == FH_PROMPT_WAITING) {
    self->state = FH_PROMPT_ANSWERED;
    notify (self->prompts, self, NULL);
  }
  return ok;
}

gboolean
fh_prompts_answer_waiting (FhPrompts *self, FhPromptKind kind, gboolean approve,
                           const char *value, char **who, GError **error)
{
  FhPrompt *prompt = fh_prompts_find_waiting (self, kind);
  g_autofree char *name = NULL;

  if (!prompt) {
    if (!self->idle_message[kind])
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   kind == FH_PROMPT_PIN
                     ? "nothing on this host pairs clients by a PIN they show (gamestream in "
                       "config.ini turns the plane that does on)"
                     : "nothing on this host asks to join");
    else
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, self->idle_message[kind]);
    return FALSE;
  }
  name = g_strdup (prompt->who);
  if (!fh_prompt_answer (prompt, approve, value, error))
    return FALSE;
  if (who)
    *who = g_steal_pointer (&name);
  return TRUE;
}

void
fh_prompt_end (FhPrompt *self, FhPromptState state, const char *detail)
{
  g_return_if_fail (!self->telling);
  if (self->ended)
    return;
  self->ended = TRUE;
  self->state = state;
  notify (self->prompts, self, detail);
  if (!self->answering)
    finish (self);
}

const char *
fh_prompt_get_id (FhPrompt *self)
{
  return self->id;
}

FhPromptKind
fh_prompt_get_kind (FhPrompt *self)
{
  return self->kind;
}

const char *
fh_prompt_get_who (FhPrompt *self)
{
  return self->who;
}

const char *
fh_prompt_get_about (FhPrompt *self)
{
  return self->about;
}

const char *
fh_prompt_get_from (FhPrompt *self)
{
  return self->from;
}

guint
fh_prompt_get_timeout (FhPrompt *self)
{
  return self->timeout_s;
}

FhPromptState
fh_prompt_get_state (FhPrompt *self)
{
  return self->state;
}

const char *
fh_prompt_kind_to_string (FhPromptKind kind)
{
  switch (kind) {
  case FH_PROMPT_PIN:
    return "pin";
  case FH_PROMPT_JOIN:
    return "join";
  case FH_PROMPT_GUEST:
    return "guest";
  }
  return "unknown";
}

GPtrArray *
fh_prompts_list_waiting (FhPrompts *self)
{
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; i < self->open->len; i++) {
    FhPrompt *p = self->open->pdata[i];
    if (p->state == FH_PROMPT_WAITING && !p->ended)
      g_ptr_array_add (list, p);
  }
  return list;
}
