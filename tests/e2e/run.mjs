// Runs the browser tests of this folder with node --test: all of them, or
// those named (--only a.test.mjs,b.test.mjs), or all but those named
// (--except …). scripts/test.sh runs the frame-rate and flow-control tests
// in the plain build, where timings mean something, and the rest under the
// sanitizers (tests/meson.build: browser-e2e-timing, browser-e2e).

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [how, list = ''] = process.argv.slice(2);
const named = list.split(',').filter(Boolean);
const all = readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort();
const unknown = named.filter((f) => !all.includes(f));
if ((how && how !== '--only' && how !== '--except') || unknown.length) {
  console.error(`run.mjs: usage: run.mjs [--only|--except a.test.mjs,…]${unknown.length ? `; no such test: ${unknown.join(', ')}` : ''}`);
  process.exit(2);
}
const files = how === '--only' ? all.filter((f) => named.includes(f))
  : how === '--except' ? all.filter((f) => !named.includes(f)) : all;
const r = spawnSync(process.execPath, ['--test', ...files.map((f) => join(here, f))], { stdio: 'inherit' });
process.exit(r.status ?? 1);
