// The session sandbox against a hostile app, the host run as a normal user
// (the `funkhaus` account): it cannot make accounts, so every session runs
// as that user, with a home per device, and only bubblewrap's namespaces
// keep sessions apart. Skipped, saying why, on a machine that does not let
// a normal user make user namespaces. tests/e2e/lib/sandbox-suite.mjs says
// what is tried and checked.

import { sandboxSuite } from './lib/sandbox-suite.mjs';

sandboxSuite({ asUser: 'funkhaus' });
