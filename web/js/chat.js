// Text chat: the history and system lines as data (ChatLog, no DOM, tested by node --test), and
// the panel beside the player plus the overlay on the video (bindChat). Everything people typed
// (names and text) goes into the page through textContent, never as markup.

import { waitingText } from "./group-controls.js";
import { displayName } from "./members.js";
import { isNewer } from "./sync.js";

/** Lines kept on the page (the server keeps its own, shorter history for late joiners). */
export const MAX_LINES = 200;
/** Lines the overlay on the video shows at once, and how long a line stays there outside fullscreen. */
export const OVERLAY_LINES = 5;
export const OVERLAY_MS = 10_000;

const nameOf = (store, id) => (id === store.memberId ? "You" : displayName(store.members.get(id) ?? { id }));

/**
 * The system line a server message gives, or null. Called before the store applies the message,
 * so a member who leaves still has a name.
 */
export function systemTextFor(msg, store) {
  switch (msg?.type) {
    case "memberJoined":
      return msg.member?.id && msg.member.id !== store.memberId ? `${displayName(msg.member)} joined` : null;
    case "memberLeft":
      return store.members.has(msg.memberId) ? `${nameOf(store, msg.memberId)} left` : null;
    case "hostChanged":
      if (!msg.hostId || msg.hostId === store.hostId) return null;
      return msg.hostId === store.memberId ? "You are now the host" : `${nameOf(store, msg.hostId)} is now the host`;
    case "kicked":
      return `${nameOf(store, msg.memberId)} was ${msg.ban ? "banned" : "removed"} by the host`;
    case "stateUpdate":
    case "state_update":
      return gateText(msg.state, store);
    case "locked":
      return msg.locked ? "The host locked the room: nobody new can join" : "The host unlocked the room";
    default:
      return null;
  }
}

/** The buffering gate's news in a newer state: it starts waiting for someone, or it resumes. */
function gateText(state, store) {
  if (!state || !isNewer(state, store.playback ?? null)) return null; // an echo or a stale copy
  const was = store.playback?.waitingFor ?? [];
  const now = Array.isArray(state.waitingFor) ? state.waitingFor : [];
  if (now.length > 0 && was.length === 0) {
    const text = waitingText(now, (id) => (id === store.memberId ? "you" : nameOf(store, id)));
    return text[0].toUpperCase() + text.slice(1);
  }
  // the wait is over: everyone ready, "Play anyway", or the wait's deadline
  if (now.length === 0 && was.length > 0 && !state.paused) return "Playback resumed";
  return null;
}

/** A chat message as the server sent it → a line, or null if it is not one. */
export function chatLine(msg, myId = null) {
  if (msg?.type !== "chat" || typeof msg.text !== "string") return null;
  return {
    kind: "chat",
    id: String(msg.id ?? ""),
    from: msg.from ?? null,
    name: displayName({ name: msg.name, id: msg.from }),
    text: msg.text,
    at: Number.isFinite(msg.at) ? msg.at : Date.now(),
    mine: myId !== null && msg.from === myId,
  };
}

/** "14:05" in the viewer's time zone. */
export function clockText(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The lines of this page's chat: fires "line" (detail: the line) for each new one. */
export class ChatLog extends EventTarget {
  constructor({ max = MAX_LINES, now = () => Date.now() } = {}) {
    super();
    this.max = max;
    this.now = now;
    this.lines = [];
    this.ids = new Set();
  }

  add(line) {
    if (line.kind === "chat" && line.id) {
      if (this.ids.has(line.id)) return false; // in the history of a reconnect's init, or heard twice
      this.ids.add(line.id);
    }
    this.lines.push(line);
    while (this.lines.length > this.max) {
      const dropped = this.lines.shift();
      if (dropped.kind === "chat") this.ids.delete(dropped.id);
    }
    this.dispatchEvent(new CustomEvent("line", { detail: line }));
    return true;
  }

  system(text) {
    return this.add({ kind: "system", text, at: this.now() });
  }

  /** Read one server message; call it before the store applies the message. */
  handle(msg, store) {
    if (msg?.type === "init") {
      const myId = msg.memberId ?? store.memberId;
      for (const m of Array.isArray(msg.chat) ? msg.chat : []) {
        const line = chatLine(m, myId);
        if (line) this.add(line);
      }
      return;
    }
    if (msg?.type === "chat") {
      const line = chatLine(msg, store.memberId);
      if (line) this.add(line);
      return;
    }
    if (msg?.type === "presence") {
      // a batch may name a member already known (a reconnect's rejoin): not news
      for (const m of msg.joined ?? []) {
        if (m?.id && !store.members.has(m.id)) this.handle({ type: "memberJoined", member: m }, store);
      }
      for (const id of msg.left ?? []) this.handle({ type: "memberLeft", memberId: id }, store);
      return;
    }
    const text = systemTextFor(msg, store);
    if (text) this.system(text);
  }
}

function lineElement(line, tag) {
  const el = document.createElement(tag);
  el.className = `chat-line ${line.kind}${line.mine ? " mine" : ""}`;
  if (line.kind === "chat") {
    el.dataset.chatId = line.id;
    const time = document.createElement("time");
    time.dateTime = new Date(line.at).toISOString();
    time.textContent = clockText(line.at);
    const who = document.createElement("span");
    who.className = "chat-name";
    who.textContent = line.mine ? "You" : line.name;
    const text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = line.text;
    el.append(time, " ", who, " ", text);
  } else {
    el.textContent = line.text;
  }
  return el;
}

/**
 * Render `chat` into the panel (`list`, `form`) and the overlay on the video (`overlay`,
 * `overlayForm`: the latter is shown in fullscreen, where the panel is not). `send(text)` → whether
 * it went out.
 */
export function bindChat({ panel, list, form, overlay, overlayForm }, chat, store, send) {
  const append = (line) => {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(lineElement(line, "li"));
    while (list.childElementCount > chat.max) list.firstElementChild.remove();
    if (nearBottom || line.mine) list.scrollTop = list.scrollHeight;

    const shown = lineElement(line, "p");
    overlay.append(shown);
    while (overlay.childElementCount > OVERLAY_LINES) overlay.firstElementChild.remove();
    setTimeout(() => shown.classList.add("stale"), OVERLAY_MS);
  };
  for (const line of chat.lines) append(line);
  chat.addEventListener("line", ({ detail }) => append(detail));

  for (const f of [form, overlayForm]) {
    const input = f.querySelector("input");
    f.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      if (send(text)) input.value = "";
    });
  }
  store.addEventListener("change", ({ detail: what }) => {
    if (what === "gone") {
      panel.hidden = true;
      overlayForm.hidden = true;
    }
    const offline = store.connection !== "open";
    for (const f of [form, overlayForm]) for (const el of f.elements) el.disabled = offline;
  });
}
