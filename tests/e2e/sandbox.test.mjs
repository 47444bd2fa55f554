// The session sandbox against a hostile app, the host run as root: every
// device's sessions run as an account of its own (tests/e2e/lib/sandbox-suite.mjs
// says what is tried and checked).

import { sandboxSuite } from './lib/sandbox-suite.mjs';

sandboxSuite();
