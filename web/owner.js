// The owner's page (docs/protocol.md, "Owner"): shown on the console of a
// device that holds the owner right. It asks for the host's state once a
// second while shown and sends the owner's requests; the host checks the
// right on every one of them.

const POLL_MS = 1000;
const ARMED_MS = 5000; // a "Revoke" click waits this long for its "Sure?"

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset')
      Object.assign(e.dataset, v);
    else if (k === 'onclick')
      e.addEventListener('click', v);
    else
      e[k] = v;
  }
  e.append(...children);
  return e;
}

function describeMode(m) {
  return m ? `${m.width}×${m.height}@${m.refresh}` : '?';
}

export class OwnerPage {
  /** `send(msg)` sends an owner message on the console (false when it is
   *  not open); `hooks.owner` is kept up to date for tests. */
  constructor(send, hooks) {
    this.send = send;
    this.poll = 0;
    this.armed = null; // {device, until}: "Revoke" clicked once
    this.ui = {
      section: $('owner'), sessions: $('owner-sessions'), devices: $('owner-devices'),
      requests: $('owner-requests'), newPin: $('owner-new-pin'), pin: $('owner-pin'),
      result: $('owner-result'),
    };
    this.hooks = hooks;
    hooks.owner = { shown: false, state: null, pin: null, done: [], errors: [] };
    // Tests send what the page's buttons would not (an id that names nothing).
    hooks.sendOwner = (msg) => this.request(msg);
    this.ui.newPin.addEventListener('click', () => this.request({ op: 'new-pin' }));
  }

  /** The host says this device holds the owner right (or lost it). */
  show(owner) {
    this.hooks.owner.shown = owner;
    this.ui.section.hidden = !owner;
    clearInterval(this.poll);
    this.poll = 0;
    if (!owner)
      return;
    this.request({ op: 'state' });
    this.poll = setInterval(() => this.request({ op: 'state' }), POLL_MS);
  }

  /** The console closed: nothing to show until the host says so again. */
  hide() {
    this.show(false);
    this.hooks.owner.state = null;
  }

  request(msg) {
    return this.send({ type: 'owner', ...msg });
  }

  /** Handles a message of the owner's page; false for any other. */
  onMessage(msg) {
    switch (msg.type) {
    case 'owner':
      this.show(msg.owner === true);
      return true;
    case 'owner-state':
      this.hooks.owner.state = msg;
      this.render(msg);
      return true;
    case 'owner-pin':
      this.hooks.owner.pin = msg.pin;
      this.ui.pin.textContent = msg.pin;
      this.showResult(null, `Pairing PIN ${msg.pin}: it pairs one browser within 10 minutes.`);
      return true;
    case 'owner-done':
      this.hooks.owner.done.push(msg.op);
      this.showResult(null, '');
      if (msg.op !== 'state')
        this.request({ op: 'state' });
      return true;
    case 'owner-error':
      this.hooks.owner.errors.push({ op: msg.op, message: msg.message });
      this.showResult('error', `${msg.op}: ${msg.message}`);
      return true;
    }
    return false;
  }

  showResult(kind, text) {
    this.ui.section.dataset.result = kind ?? '';
    this.ui.result.textContent = text;
  }

  render(state) {
    const names = new Map((state.devices ?? []).map((d) => [d.id, d.name]));
    this.renderRows(this.ui.sessions, state.sessions ?? [], (s) => s.id,
      (s) => this.sessionRow(s), (row, s) => this.updateSession(row, s));
    this.renderRows(this.ui.devices, state.devices ?? [], (d) => d.id,
      (d) => this.deviceRow(d), (row, d) => this.updateDevice(row, d));
    this.renderRows(this.ui.requests, state.requests ?? [], (r) => r.id,
      (r) => this.requestRow(r, names), () => {});
  }

  /** Keeps one row per key: new ones made, gone ones removed, the rest
   *  updated in place (a click or a half-typed value survives a poll). */
  renderRows(body, items, key, make, update) {
    const rows = new Map([...body.children].map((r) => [r.dataset.key, r]));
    const keep = new Set();
    for (const item of items) {
      const k = key(item);
      keep.add(k);
      let row = rows.get(k);
      if (!row) {
        row = make(item);
        row.dataset.key = k;
        body.append(row);
      }
      update(row, item);
    }
    for (const [k, row] of rows)
      if (!keep.has(k))
        row.remove();
    body.closest('table')?.toggleAttribute('data-empty', items.length === 0);
  }

  sessionRow(s) {
    return el('tr', { dataset: { session: s.id } },
      el('td', { className: 'device' }), el('td', { className: 'mode' }),
      el('td', { className: 'rate' }), el('td', { className: 'backend' }),
      el('td', { className: 'state' }),
      el('td', {}, el('button', { type: 'button', textContent: 'End', className: 'end',
        onclick: () => this.request({ op: 'end-session', session: s.id }) })));
  }

  updateSession(row, s) {
    const c = row.children;
    c[0].textContent = s.device_name ? `${s.device_name} (${s.device.slice(0, 8)})` : s.device;
    c[1].textContent = describeMode(s.mode);
    c[2].textContent = `${Math.round(s.fps)} fps, ${Math.round(s.kbps)} kbit/s`;
    const guests = s.guests?.length ? `, guests: ${s.guests.join(', ')}` : '';
    c[3].textContent = `${s.backend} via ${s.plane || '–'}${guests}`;
    c[4].textContent = s.state;
  }

  deviceRow(d) {
    const level = el('select', { className: 'level', title: 'access level' },
      ...['full', 'controller', 'view'].map((l) => el('option', { value: l, textContent: l })));
    const span = el('input', { className: 'for', placeholder: 'for (2h)', size: 6,
      title: 'how long the level lasts (e.g. 30m, 2h, 1d); empty: for good' });
    const set = el('button', { type: 'button', textContent: 'Set', className: 'set-level',
      onclick: () => {
        const msg = { op: 'level', device: d.id, level: level.value };
        if (span.value.trim())
          msg.for = span.value.trim();
        this.request(msg);
        span.value = '';
      } });
    const revoke = el('button', { type: 'button', textContent: 'Revoke', className: 'revoke',
      onclick: () => this.revoke(d.id, revoke) });
    return el('tr', { dataset: { device: d.id } },
      el('td', { className: 'name' }), el('td', { className: 'kind' }),
      el('td', { className: 'access' }),
      el('td', { className: 'controls' }, level, span, set, revoke));
  }

  updateDevice(row, d) {
    const c = row.children;
    c[0].textContent = `${d.name ?? '?'} (${d.id.slice(0, 8)})${d.owner ? ' — owner' : ''}`;
    c[1].textContent = d.kind;
    c[2].textContent = d.until ? `${d.level} until ${new Date(d.until).toLocaleString()}` : d.level;
    const select = row.querySelector('select.level');
    if (document.activeElement !== select && row.dataset.level !== d.level) {
      select.value = d.level;
      row.dataset.level = d.level;
    }
    const revoke = row.querySelector('button.revoke');
    const armed = this.armed?.device === d.id && this.armed.until > Date.now();
    revoke.textContent = armed ? 'Sure?' : 'Revoke';
    revoke.classList.toggle('armed', armed);
  }

  /** Two clicks, no dialog: the first arms the button, the second (within
   *  ARMED_MS) revokes. */
  revoke(device, button) {
    if (this.armed?.device === device && this.armed.until > Date.now()) {
      this.armed = null;
      button.textContent = 'Revoke';
      button.classList.remove('armed');
      this.request({ op: 'revoke', device });
      return;
    }
    this.armed = { device, until: Date.now() + ARMED_MS };
    button.textContent = 'Sure?';
    button.classList.add('armed');
    setTimeout(() => {
      if (this.armed?.device === device && this.armed.until <= Date.now()) {
        this.armed = null;
        button.textContent = 'Revoke';
        button.classList.remove('armed');
      }
    }, ARMED_MS + 50);
  }

  requestRow(r, names) {
    const who = names.get(r.who) ?? r.who;
    const what = r.kind === 'pin' ? `Moonlight client ‘${r.who}’ wants to pair`
      : r.kind === 'join' ? `device ${who} asks to view the shared desktop`
        : `${r.kind}: ${who}`;
    const cells = [el('td', { className: 'what', textContent: `${what}${r.from ? ` (from ${r.from})` : ''}` })];
    const buttons = el('td', { className: 'controls' });
    let value = null;
    if (r.kind === 'pin') {
      value = el('input', { className: 'value', placeholder: 'PIN', size: 4, inputMode: 'numeric',
        maxLength: 4 });
      buttons.append(value);
    }
    buttons.append(
      el('button', { type: 'button', textContent: r.kind === 'pin' ? 'Pair' : 'Approve',
        className: 'approve', onclick: () => {
          const msg = { op: 'approve', request: r.id };
          if (value)
            msg.value = value.value.trim();
          this.request(msg);
        } }),
      el('button', { type: 'button', textContent: 'Deny', className: 'deny',
        // A Moonlight client cannot be turned away, only left to time out.
        hidden: r.kind === 'pin',
        onclick: () => this.request({ op: 'deny', request: r.id }) }));
    cells.push(buttons);
    return el('tr', { dataset: { request: r.id, kind: r.kind } }, ...cells);
  }
}
