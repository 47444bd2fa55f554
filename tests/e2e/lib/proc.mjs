// What a running host holds, read from /proc: descriptors, threads,
// resident memory, and sockets of its port left in CLOSE-WAIT.

import { readdir, readFile } from 'node:fs/promises';

/** Open file descriptors of `pid`. */
export async function openFds(pid) {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Threads of `pid`. */
export async function threadCount(pid) {
  return (await readdir(`/proc/${pid}/task`)).length;
}

/** Resident memory of `pid` in KiB (VmRSS). */
export async function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Sockets whose local port is `port` in CLOSE-WAIT (state 08), from /proc/net. */
export async function closeWaitCount(port) {
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4)
        continue;
      const local = parseInt(fields[1].split(':').pop(), 16);
      if (local === port && fields[3] === '08')
        count++;
    }
  }
  return count;
}

/** All four at once, for a report line. */
export async function hostFigures(pid, port) {
  return { fds: await openFds(pid), threads: await threadCount(pid), rssKiB: await rssKiB(pid),
    closeWait: await closeWaitCount(port) };
}
