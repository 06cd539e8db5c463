// What the host may do against unwanted members (remove, ban, lock the room) and what a refused
// page shows: the close-4003 reasons read as data (no DOM, tested by node --test), the host's
// buttons, and the password prompt of a protected session.

import { GONE } from "./store.js";

/** Close 4003's reasons (PROTOCOL.md) → what the page does about them. */
export const REFUSALS = Object.freeze({
  "Removed by the host": { gone: GONE.KICKED },
  "Banned from this session": { gone: GONE.BANNED },
  "Session is locked": { gone: GONE.LOCKED },
  "Password required": { password: "This session is protected: enter the password the host gave you." },
  "Wrong password": { password: "That password is not right. Try again." },
  "Too many password attempts; retry later": { password: "Too many attempts. Wait a minute, then try again." },
});

/** What a close means for moderation: {gone} (stop for good), {password} (ask for it), or null. */
export function refusalFor(code, reason) {
  if (code !== 4003) return null;
  return REFUSALS[reason] ?? { gone: GONE.KICKED };
}

/** The host's "Remove" and "Ban" buttons for member `m` (none for itself or for non-hosts). */
export function memberActions(store, send) {
  return (m) => {
    if (!store.isHost || m.id === store.memberId) return [];
    const make = (label, type, title) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = label;
      b.title = title;
      b.dataset[type === "ban" ? "ban" : "kick"] = m.id;
      b.addEventListener("click", () => send({ type, memberId: m.id }));
      return b;
    };
    return [
      make("Remove", "kick", "Remove from the session (may join again as someone new)"),
      make("Ban", "ban", "Remove for the rest of the session"),
    ];
  };
}

/** The host's lock button and everyone's "locked" badge, rendered from the store. */
export function bindLock({ panel, button, badge }, store, send) {
  button.addEventListener("click", () => send({ type: "lock", locked: !store.locked }));
  const render = () => {
    panel.hidden = !store.isHost || Boolean(store.gone);
    badge.hidden = !store.locked || Boolean(store.gone);
    button.textContent = store.locked ? "Unlock room" : "Lock room";
    button.setAttribute("aria-pressed", String(Boolean(store.locked)));
  };
  store.addEventListener("change", render);
  render();
}

/**
 * The password prompt over the video: `show(message)` opens it; a submitted password is kept in
 * sessionStorage (under `storageKey`, for this tab's reconnects) and `onSubmit()` connects again.
 */
export function passwordPrompt({ form, input, message }, { storage = sessionStorage, storageKey, onSubmit }) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value) return;
    storage.setItem(storageKey, input.value);
    form.hidden = true;
    delete document.body.dataset.password;
    onSubmit();
  });
  return {
    show(text) {
      storage.removeItem(storageKey);
      message.textContent = text;
      form.hidden = false;
      document.body.dataset.password = "needed"; // nothing of the session is shown meanwhile
      input.value = "";
      input.focus({ preventScroll: true });
    },
  };
}
