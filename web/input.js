// Keyboard and mouse → binary input messages for the session on screen.
// Positions are absolute, in the session's pixels. Auto-repeat is not sent:
// the session's compositor repeats a held key itself, so sending the
// browser's repeats as well would double them.

import { encodeKey, encodeMotion, encodeButton, encodeScroll, wheelToUnits } from './protocol.js';

export class InputCapture {
  /**
   * @param {HTMLCanvasElement} canvas  the picture; mouse events are taken here
   * @param {object} opts  send(Uint8Array), mode() → {width, height},
   *                       active() → bool, onHotkey(event) → true if consumed
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.opts = opts;
    this.keysDown = new Set();
    this.buttonsDown = new Set();
    this.last = null;            // last position sent, session pixels
    this.locked = { x: 0, y: 0 }; // virtual cursor while the pointer is locked
    this.wheelRest = { x: 0, y: 0 };
    this.handlers = [];

    this.on(window, 'keydown', (e) => this.key(e, true));
    this.on(window, 'keyup', (e) => this.key(e, false));
    this.on(window, 'blur', () => this.releaseAll());
    this.on(document, 'visibilitychange', () => {
      if (document.hidden)
        this.releaseAll();
    });
    this.on(canvas, 'mousemove', (e) => this.move(e));
    this.on(canvas, 'mousedown', (e) => this.button(e, true));
    // Up is taken on the window so a drag released outside the canvas ends.
    this.on(window, 'mouseup', (e) => this.button(e, false));
    this.on(canvas, 'wheel', (e) => this.wheel(e), { passive: false });
    this.on(canvas, 'contextmenu', (e) => e.preventDefault());
    this.on(document, 'pointerlockchange', () => {
      if (this.isLocked() && this.last)
        this.locked = { ...this.last };
    });
  }

  on(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.handlers.push([target, type, fn, options]);
  }

  destroy() {
    this.releaseAll();
    for (const [target, type, fn, options] of this.handlers)
      target.removeEventListener(type, fn, options);
    this.handlers = [];
  }

  isLocked() {
    return document.pointerLockElement === this.canvas;
  }

  send(msg) {
    if (msg)
      this.opts.send(msg);
  }

  key(e, down) {
    if (!this.opts.active())
      return;
    if (down && this.opts.onHotkey?.(e)) {
      e.preventDefault();
      return;
    }
    // While streaming every key belongs to the session, not to the page.
    e.preventDefault();
    if (down && e.repeat)
      return;
    if (down) {
      if (this.keysDown.has(e.code))
        return;
      this.keysDown.add(e.code);
    } else if (!this.keysDown.delete(e.code)) {
      return; // its down went to the page, not to the session
    }
    this.send(encodeKey(e.code, down));
  }

  /** CSS position on the canvas → session pixels. */
  toSession(e) {
    const mode = this.opts.mode();
    if (!mode)
      return null;
    if (this.isLocked()) {
      const rect = this.canvas.getBoundingClientRect();
      const sx = rect.width > 0 ? mode.width / rect.width : 1;
      const sy = rect.height > 0 ? mode.height / rect.height : 1;
      this.locked.x = Math.max(0, Math.min(mode.width - 1, this.locked.x + e.movementX * sx));
      this.locked.y = Math.max(0, Math.min(mode.height - 1, this.locked.y + e.movementY * sy));
      return { x: Math.floor(this.locked.x), y: Math.floor(this.locked.y) };
    }
    const rect = this.canvas.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0)
      return null;
    const x = Math.floor((e.clientX - rect.left) * mode.width / rect.width);
    const y = Math.floor((e.clientY - rect.top) * mode.height / rect.height);
    return {
      x: Math.max(0, Math.min(mode.width - 1, x)),
      y: Math.max(0, Math.min(mode.height - 1, y)),
    };
  }

  moveTo(p) {
    if (!p || (this.last && this.last.x === p.x && this.last.y === p.y))
      return;
    this.last = p;
    this.send(encodeMotion(p.x, p.y));
  }

  move(e) {
    if (!this.opts.active())
      return;
    this.moveTo(this.toSession(e));
  }

  button(e, down) {
    if (!this.opts.active())
      return;
    if (down) {
      if (e.target !== this.canvas)
        return;
      this.canvas.focus?.();
      // The press happens where the pointer is now, even if no move was sent.
      this.moveTo(this.toSession(e));
      if (this.buttonsDown.has(e.button))
        return;
      this.buttonsDown.add(e.button);
    } else if (!this.buttonsDown.delete(e.button)) {
      return;
    }
    e.preventDefault();
    this.send(encodeButton(e.button, down));
  }

  wheel(e) {
    if (!this.opts.active())
      return;
    e.preventDefault();
    // Keep the fraction so slow touchpad scrolling adds up to notches.
    this.wheelRest.x += wheelToUnits(e.deltaX, e.deltaMode);
    this.wheelRest.y += wheelToUnits(e.deltaY, e.deltaMode);
    const dx = Math.trunc(this.wheelRest.x), dy = Math.trunc(this.wheelRest.y);
    if (dx === 0 && dy === 0)
      return;
    this.wheelRest.x -= dx;
    this.wheelRest.y -= dy;
    this.send(encodeScroll(dx, dy));
  }

  /** Lets go of everything held: on blur, on disconnect. Nothing stays stuck. */
  releaseAll() {
    if (this.opts.active()) {
      for (const code of this.keysDown)
        this.send(encodeKey(code, false));
      for (const b of this.buttonsDown)
        this.send(encodeButton(b, false));
    }
    this.keysDown.clear();
    this.buttonsDown.clear();
  }

  /** After a reconnect the host has a fresh injector: forget what was held. */
  forget() {
    this.keysDown.clear();
    this.buttonsDown.clear();
    this.last = null;
  }
}
