/* Small helpers shared by the benchmark programs: percentiles over µs
 * samples, CPU time and memory of processes, and which wlroots session a
 * process belongs to. */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/stats.h" /* fh_percentile_ms: the host's own rule */

static inline double
fh_bench_percentile_double (GArray *samples, double p)
{
  gsize i;

  if (samples->len == 0)
    return 0.0;
  i = (gsize) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, double, i);
}

static inline int
fh_bench_compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* User + system CPU time of this process (all threads), µs. */
static inline gint64
fh_bench_self_cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* utime + stime from a /proc stat file (a process's or one thread's), µs;
 * -1 when it cannot be read. */
static inline gint64
fh_bench_stat_cpu_us (const char *stat_path)
{
  g_autofree char *text = NULL;
  const char *p;
  unsigned long long utime, stime;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents (stat_path, &text, NULL, NULL))
    return -1;
  /* The command name may hold spaces and parentheses: fields start after
   * the last ')'. utime and stime are fields 14 and 15. */
  if (!(p = strrchr (text, ')')))
    return -1;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (gint64) ((utime + stime) * (unsigned long long) G_USEC_PER_SEC / (unsigned long long) ticks);
}

/* utime + stime of @pid (all its threads), µs; -1 when it cannot be read. */
static inline gint64
fh_bench_process_cpu_us (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);

  return fh_bench_stat_cpu_us (path);
}

/* Time @pid has been on a CPU, all its threads, µs: the scheduler's own
 * count in nanoseconds (/proc/PID/task/TID/schedstat), where utime + stime
 * come in 10 ms ticks. Threads that ended are not in it. -1 when it cannot
 * be read. */
static inline gint64
fh_bench_process_runtime_us (pid_t pid)
{
  g_autofree char *task = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr (GDir) dir = g_dir_open (task, 0, NULL);
  const char *name;
  gint64 sum = 0;

  if (!dir)
    return -1;
  while ((name = g_dir_read_name (dir))) {
    g_autofree char *path = g_strdup_printf ("%s/%s/schedstat", task, name);
    g_autofree char *text = NULL;

    if (g_file_get_contents (path, &text, NULL, NULL))
      sum += (gint64) (g_ascii_strtoull (text, NULL, 10) / 1000);
  }
  return sum;
}

/* The same for one thread, given its /proc/PID/task/TID path. */
static inline gint64
fh_bench_thread_runtime_us (const char *task_path)
{
  g_autofree char *path = g_build_filename (task_path, "schedstat", NULL);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  return (gint64) (g_ascii_strtoull (text, NULL, 10) / 1000);
}

/* CPU time the whole machine spent busy (every CPU, anything but idle and
 * iowait) since boot, µs, from /proc/stat; -1 when it cannot be read. */
static inline gint64
fh_bench_machine_busy_us (void)
{
  g_autofree char *text = NULL;
  unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL) ||
      sscanf (text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle,
              &iowait, &irq, &softirq, &steal) != 8)
    return -1;
  return (gint64) ((user + nice + system + irq + softirq + steal) *
                   (unsigned long long) G_USEC_PER_SEC / (unsigned long long) ticks);
}

/* Resident and proportional set size of @pid, KiB (smaps_rollup: Pss
 * shares each page among the processes that map it, so Pss adds up across
 * processes and Rss does not). FALSE when it cannot be read. */
static inline gboolean
fh_bench_process_memory (pid_t pid, guint64 *rss_kib, guint64 *pss_kib)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", (int) pid);
  g_autofree char *text = NULL;
  const char *rss, *pss;

  if (!g_file_get_contents (path, &text, NULL, NULL) || !(rss = strstr (text, "\nRss:")) ||
      !(pss = strstr (text, "\nPss:")))
    return FALSE;
  *rss_kib = g_ascii_strtoull (rss + 5, NULL, 10);
  *pss_kib = g_ascii_strtoull (pss + 5, NULL, 10);
  return TRUE;
}

/* The value of FUNKHAUS_SESSION in @pid's environment: every process of a
 * wlroots session carries it (sway, Xwayland, the app and their children).
 * NULL when absent or unreadable (needs the same user, or root). */
static inline char *
fh_bench_process_session (pid_t pid)
{
  static const char marker[] = "FUNKHAUS_SESSION=";
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *env = NULL;
  gsize len;

  if (!g_file_get_contents (path, &env, &len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i += strlen (env + i) + 1) {
    if (g_str_has_prefix (env + i, marker))
      return g_strdup (env + i + sizeof marker - 1);
  }
  return NULL;
}

/* The command name of the process or thread at @proc_path (/proc/PID or
 * /proc/PID/task/TID), without the newline; "?" when it cannot be read. */
static inline char *
fh_bench_comm (const char *proc_path)
{
  g_autofree char *path = g_build_filename (proc_path, "comm", NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("?");
  return g_strchomp (text);
}
