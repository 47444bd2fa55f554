// Scripted gamepads for the web client: an init script that replaces
// navigator.getGamepads() with pads the test sets (standard mapping, a
// vibrationActuator that records what it is asked to play), and the record
// of tests/apps/fh-pad-logger (one SDL controller event a line).

import { readFile } from 'node:fs/promises';

/** Runs in the page before its scripts: window.__fhPads.set(i, state) plugs
 *  pad i in (or changes it), .unplug(i) pulls it; window.__fhPads.effects
 *  lists what each pad's vibrationActuator was asked to play. */
export function scriptedGamepads() {
  const pads = [null, null, null, null];
  const effects = [];
  const make = (index, s) => {
    const buttons = [];
    for (let b = 0; b < 17; b++) {
      const v = b === 6 ? (s.lt ?? 0) : b === 7 ? (s.rt ?? 0) : (s.buttons ?? []).includes(b) ? 1 : 0;
      buttons.push({ pressed: v > 0.5 || (b !== 6 && b !== 7 && v === 1), touched: v > 0, value: v });
    }
    return {
      id: `scripted pad ${index} (STANDARD GAMEPAD)`,
      index,
      connected: true,
      mapping: 'standard',
      timestamp: performance.now(),
      buttons,
      axes: s.axes ?? [0, 0, 0, 0],
      vibrationActuator: {
        type: 'dual-rumble',
        playEffect(type, params) {
          effects.push({ pad: index, type, ...params });
          return Promise.resolve('complete');
        },
        reset() {
          effects.push({ pad: index, type: 'reset' });
          return Promise.resolve('complete');
        },
      },
    };
  };
  // As a browser does: gamepadconnected when a pad appears, and
  // gamepaddisconnected when it goes.
  const tell = (type, gamepad) => {
    const e = new Event(type);
    e.gamepad = gamepad;
    window.dispatchEvent(e);
  };
  window.__fhPads = {
    set(i, state) {
      const fresh = !pads[i];
      pads[i] = make(i, state);
      if (fresh)
        tell('gamepadconnected', pads[i]);
    },
    unplug(i) {
      const was = pads[i];
      pads[i] = null;
      if (was)
        tell('gamepaddisconnected', was);
    },
    effects,
  };
  Object.defineProperty(Navigator.prototype, 'getGamepads', {
    configurable: true,
    value() { return pads.slice(); },
  });
}

/** The logger's record: [{us, kind, args}] ("added 0 X360 Controller" →
 *  {kind: 'added', args: ['0', 'X360', 'Controller']}). */
export async function padRecord(path) {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e.code !== 'ENOENT')
      throw e;
  }
  return text.split('\n').filter(Boolean).map((l) => {
    const [us, kind, ...args] = l.split(' ');
    return { us: Number(us), kind, args, line: l };
  });
}
