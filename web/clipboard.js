// The session's clipboard, text only, both ways, while the user allows it
// ("Share the clipboard"): what is copied here goes to the session when
// this page has the focus (on focus, then once a second), and what an app
// of the session copies is put on this machine's clipboard, at once if the
// page has the focus, else when it gets it back. Browsers let a page read
// the clipboard only while it has the focus and the user allowed it.

const MAX_BYTES = 32768;    // docs/protocol.md: the host refuses more text
const MAX_MESSAGE = 65536;  // … and longer messages (escapes count)
const CHECK_MS = 1000;

export class ClipboardSync {
  /**
   * @param {object} opts  send(text), onEvent({dir: 'sent'|'received', text})
   */
  constructor(opts) {
    this.opts = opts;
    this.last = null;     // the text either side had last: not sent back
    this.pending = null;  // from the session, waiting for the focus
    this.timer = 0;
    this.running = false;
    this.onFocus = () => this.sync();
  }

  static supported() {
    return typeof navigator !== 'undefined' && !!navigator.clipboard &&
      typeof navigator.clipboard.readText === 'function';
  }

  start() {
    this.stop();
    if (!ClipboardSync.supported())
      return;
    this.running = true;
    window.addEventListener('focus', this.onFocus);
    this.timer = setInterval(() => this.sync(), CHECK_MS);
    this.sync();
  }

  stop() {
    this.running = false;
    clearInterval(this.timer);
    this.timer = 0;
    window.removeEventListener('focus', this.onFocus);
  }

  /** Reads this machine's clipboard (with the focus) and sends what is new;
   *  puts what the session copied meanwhile on it first. */
  async sync() {
    if (!this.running || !document.hasFocus())
      return;
    if (this.pending !== null) {
      const text = this.pending;
      this.pending = null;
      await navigator.clipboard.writeText(text).catch(() => { this.pending = text; });
      return;
    }
    let text;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      return; // not allowed (yet), or nothing that is text
    }
    if (!this.running || typeof text !== 'string' || text === '' || text === this.last)
      return;
    this.last = text;
    const bytes = new TextEncoder();
    if (bytes.encode(text).length > MAX_BYTES ||
        bytes.encode(JSON.stringify({ type: 'clipboard', text })).length > MAX_MESSAGE) {
      console.warn(`funkhaus: the clipboard holds more than ${MAX_BYTES} bytes; not sent`);
      return;
    }
    this.opts.send(text);
    this.opts.onEvent({ dir: 'sent', text });
  }

  /** The host's clipboard message: an app of the session copied `text`. */
  received(text) {
    if (typeof text !== 'string')
      return;
    this.last = text;
    this.opts.onEvent({ dir: 'received', text });
    this.pending = text;
    this.sync();
  }
}
