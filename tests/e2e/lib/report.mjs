// One wrapper for the end-to-end tests: a test that fails carries everything
// needed to understand it (host logs, browser logs, records) in its error.

import { test } from 'node:test';

/** Registers test `name`; on failure appends the texts `explain()` returns. */
export function reportingTest(name, { skip = false, timeout = 60000 } = {}, explain, fn) {
  test(name, { timeout, skip }, async () => {
    try {
      await fn();
    } catch (e) {
      const parts = await explain();
      e.message = `${e.message}\n\n${parts.filter(Boolean).join('\n\n')}`;
      throw e;
    }
  });
}
