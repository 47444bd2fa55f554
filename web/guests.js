// Guests (docs/protocol.md, "Guests"): the session's own client shows its
// join code, the devices that ask to join (let in at a level, or not) and
// the guests it has (change a level, remove one). The host judges every
// guest's input by the level granted here; this only shows and asks.

const $ = (id) => document.getElementById(id);
const LEVELS = [
  ['controller', 'gamepads only'],
  ['full', 'full: keyboard, mouse, gamepads'],
  ['view', 'watch only'],
];

function levelSelect(value) {
  const select = document.createElement('select');
  for (const [level, label] of LEVELS)
    select.add(new Option(label, level));
  select.value = value ?? 'controller';
  return select;
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

export class GuestPanel {
  /** `send(msg)` sends a JSON message on the session's socket; `hooks`
   *  gets joinCode, guests and guestRequests for tests. */
  constructor(send, hooks) {
    this.send = send;
    this.hooks = hooks;
    this.ui = { box: $('guests'), code: $('join-code-label'), requests: $('guest-requests'), list: $('guest-list') };
    this.requests = new Map();
    this.reset();
  }

  /** A new welcome: the code (null for a guest, who has none to give). */
  start(joinCode) {
    this.reset();
    this.hooks.joinCode = joinCode ?? null;
    this.ui.code.hidden = !joinCode;
    this.ui.code.textContent = joinCode ? `guest code ${joinCode}` : '';
    this.ui.code.title = joinCode ? 'Another paired device joins this session with this code' : '';
  }

  reset() {
    this.requests.clear();
    this.hooks.joinCode = null;
    this.hooks.guests = [];
    this.hooks.guestRequests = [];
    this.ui.code.hidden = true;
    this.render([]);
  }

  /** {"type":"guest-request"}: waiting, or how it ended. */
  request(msg) {
    if (typeof msg.request !== 'string')
      return;
    if (msg.state === 'waiting')
      this.requests.set(msg.request, msg);
    else
      this.requests.delete(msg.request);
    this.hooks.guestRequests = [...this.requests.values()];
    this.render(this.hooks.guests);
  }

  /** {"type":"guests"}: the guests now. */
  guests(msg) {
    this.hooks.guests = Array.isArray(msg.guests) ? msg.guests : [];
    this.render(this.hooks.guests);
  }

  answer(request, approve, level) {
    this.send({ type: 'guest-answer', request, approve, ...(approve ? { level } : {}) });
  }

  setLevel(guest, level) {
    this.send({ type: 'guest', guest, level });
  }

  remove(guest) {
    this.send({ type: 'guest', guest, remove: true });
  }

  render(guests) {
    const { box, requests, list } = this.ui;
    requests.replaceChildren();
    for (const r of this.requests.values()) {
      const row = document.createElement('li');
      row.dataset.request = r.request;
      const select = levelSelect('controller');
      row.append(`${r.name || r.device} asks to join `, select,
        button('Let in', () => this.answer(r.request, true, select.value)),
        button('No', () => this.answer(r.request, false)));
      requests.append(row);
    }
    list.replaceChildren();
    for (const g of guests) {
      const row = document.createElement('li');
      row.dataset.guest = String(g.id);
      const select = levelSelect(g.granted);
      select.addEventListener('change', () => this.setLevel(g.id, select.value));
      const note = g.level !== g.granted ? ` (its device: ${g.level})` : '';
      row.append(`guest ${g.name || g.device}${note} `, select,
        button('Remove', () => this.remove(g.id)));
      list.append(row);
    }
    box.hidden = this.requests.size === 0 && guests.length === 0;
  }
}
