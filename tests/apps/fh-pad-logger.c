/* A real SDL2 app for the pad tests: no window, one line per game
 * controller event on stdout (and appended to a file).
 *
 *   fh-pad-logger [LOG_FILE]      (or $FH_PAD_LOG)
 *
 * Lines, each after a CLOCK_REALTIME stamp in microseconds:
 *   ready
 *   added <id> <name>        then count <n>
 *   removed <id>             then count <n>
 *   button <id> <a|b|x|y|back|guide|start|…> down|up
 *   axis <id> <leftx|lefty|rightx|righty|lefttrigger|righttrigger> <value>
 *   rumble <id> <low> <high> [failed: <why>]   (on Y down: 0x4000, 0x8000, 1 s)
 * It ends on SIGTERM/SIGINT. */
#include <SDL.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static FILE *log_file;

static void
say (const char *format, ...)
{
  struct timespec now;
  char line[512];
  va_list ap;

  clock_gettime (CLOCK_REALTIME, &now);
  va_start (ap, format);
  vsnprintf (line, sizeof line, format, ap);
  va_end (ap);
  printf ("%lld %s\n", (long long) now.tv_sec * 1000000 + now.tv_nsec / 1000, line);
  if (log_file != NULL) {
    fprintf (log_file, "%lld %s\n", (long long) now.tv_sec * 1000000 + now.tv_nsec / 1000, line);
    fflush (log_file);
  }
}

int
main (int argc, char **argv)
{
  const char *path = argc > 1 ? argv[1] : SDL_getenv ("FH_PAD_LOG");
  int open_count = 0;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (path != NULL && path[0] != '\0') {
    log_file = fopen (path, "a");
    if (log_file == NULL) {
      perror (path);
      return 1;
    }
  }
  SDL_SetHint (SDL_HINT_JOYSTICK_ALLOW_BACKGROUND_EVENTS, "1");
  if (SDL_Init (SDL_INIT_GAMECONTROLLER | SDL_INIT_EVENTS) < 0) {
    fprintf (stderr, "SDL_Init: %s\n", SDL_GetError ());
    return 1;
  }
  say ("ready");

  for (;;) {
    SDL_Event event;

    if (!SDL_WaitEvent (&event)) {
      fprintf (stderr, "SDL_WaitEvent: %s\n", SDL_GetError ());
      return 1;
    }
    switch (event.type) {
    case SDL_QUIT:
      SDL_Quit ();
      return 0;
    case SDL_CONTROLLERDEVICEADDED: {
      SDL_GameController *pad = SDL_GameControllerOpen (event.cdevice.which);
      if (pad == NULL) {
        say ("open-failed %d %s", event.cdevice.which, SDL_GetError ());
        break;
      }
      open_count++;
      say ("added %d %s", SDL_JoystickInstanceID (SDL_GameControllerGetJoystick (pad)),
           SDL_GameControllerName (pad));
      say ("count %d", open_count);
      break;
    }
    case SDL_CONTROLLERDEVICEREMOVED: {
      SDL_GameController *pad = SDL_GameControllerFromInstanceID (event.cdevice.which);
      if (pad != NULL) {
        SDL_GameControllerClose (pad);
        open_count--;
      }
      say ("removed %d", event.cdevice.which);
      say ("count %d", open_count);
      break;
    }
    case SDL_CONTROLLERBUTTONDOWN:
    case SDL_CONTROLLERBUTTONUP: {
      int down = event.type == SDL_CONTROLLERBUTTONDOWN;
      say ("button %d %s %s", event.cbutton.which,
           SDL_GameControllerGetStringForButton (event.cbutton.button), down ? "down" : "up");
      if (down && event.cbutton.button == SDL_CONTROLLER_BUTTON_Y) {
        SDL_GameController *pad = SDL_GameControllerFromInstanceID (event.cbutton.which);
        if (pad != NULL && SDL_GameControllerRumble (pad, 0x4000, 0x8000, 1000) == 0)
          say ("rumble %d %d %d", event.cbutton.which, 0x4000, 0x8000);
        else
          say ("rumble %d %d %d failed: %s", event.cbutton.which, 0x4000, 0x8000,
               SDL_GetError ());
      }
      break;
    }
    case SDL_CONTROLLERAXISMOTION:
      say ("axis %d %s %d", event.caxis.which,
           SDL_GameControllerGetStringForAxis (event.caxis.axis), event.caxis.value);
      break;
    }
  }
}
