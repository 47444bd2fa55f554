// A client's network behind a link the test shapes (as root): a network
// namespace joined to this one by a veth pair. The host listens here and
// is reached at `hostIp` from inside; `tc … tbf` on `veth` (the host's end)
// shapes what the host sends.

import { execFileSync } from 'node:child_process';

/** Runs `ip`/`tc` with `args`; its stdout. */
export const sh = (cmd, ...args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Makes namespace `fh<tag><pid>` with a veth pair on 10.<net>.0.0/30:
 *  {ns, veth, hostIp, nsIp, shape(rate, burst, latency), unshape(), remove()}.
 *  unshape() lifts the limit as a link that gets faster does: the tbf's
 *  rate goes to 10 Gbit/s and what it holds drains at once. Deleting the
 *  qdisc would drop it (up to its latency's worth), and TCP's recovery of
 *  those packets would show as a late frame that the link did not cause. */
export function makeLinkedNamespace(tag, net) {
  const link = {
    ns: `fh${tag}${process.pid}`,
    veth: `fhv${process.pid}`.slice(0, 15),
    peer: `fhp${process.pid}`.slice(0, 15),
    hostIp: `10.${net}.0.1`,
    nsIp: `10.${net}.0.2`,
    shape: (rate, burst, latency) => sh('tc', 'qdisc', 'add', 'dev', link.veth, 'root', 'tbf', 'rate', rate,
      'burst', burst, 'latency', latency),
    unshape: () => sh('tc', 'qdisc', 'change', 'dev', link.veth, 'root', 'tbf', 'rate', '10gbit',
      'burst', '1mb', 'latency', '400ms'),
    remove: () => {
      try { sh('ip', 'netns', 'del', link.ns); } catch { /* not made */ }
      try { sh('ip', 'link', 'del', link.veth); } catch { /* gone with the namespace */ }
    },
  };
  try {
    sh('ip', 'netns', 'add', link.ns);
    sh('ip', 'link', 'add', link.veth, 'type', 'veth', 'peer', 'name', link.peer);
    sh('ip', 'link', 'set', link.peer, 'netns', link.ns);
    sh('ip', 'addr', 'add', `${link.hostIp}/30`, 'dev', link.veth);
    sh('ip', 'link', 'set', link.veth, 'up');
    sh('ip', 'netns', 'exec', link.ns, 'ip', 'addr', 'add', `${link.nsIp}/30`, 'dev', link.peer);
    sh('ip', 'netns', 'exec', link.ns, 'ip', 'link', 'set', link.peer, 'up');
    sh('ip', 'netns', 'exec', link.ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (e) {
    link.remove();
    throw e;
  }
  return link;
}
