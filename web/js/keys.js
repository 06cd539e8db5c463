// Keyboard shortcuts of the player page, decided without touching the DOM so they can be tested:
// which action a key press asks for, or null when the key belongs to whatever has the focus.

export const SEEK_STEP_S = 5;

/** key (as KeyboardEvent.key, letters lower-cased) → action name. */
export const SHORTCUTS = Object.freeze({
  " ": "togglePlay",
  k: "togglePlay",
  ArrowLeft: "seekBack",
  ArrowRight: "seekForward",
  f: "fullscreen",
  m: "mute",
  c: "subtitles",
});

const TEXT_INPUTS = new Set(["text", "search", "email", "url", "password", "number", "tel"]);

/**
 * The action for a keydown, or null. `event` needs {key, ctrlKey, metaKey, altKey, target} with
 * target {tagName, type, isContentEditable}. Typing in a field, a browser or system shortcut
 * (any modifier but Shift), a focused button's own Space/Enter and a focused slider's own arrows
 * are left alone.
 */
export function shortcutFor(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const key = event.key?.length === 1 ? event.key.toLowerCase() : event.key;
  const action = SHORTCUTS[key] ?? null;
  if (action === null) return null;
  const t = event.target ?? {};
  const tag = String(t.tagName ?? "").toUpperCase();
  const type = String(t.type ?? "").toLowerCase();
  if (t.isContentEditable || tag === "TEXTAREA" || tag === "SELECT") return null;
  if (tag === "INPUT" && (TEXT_INPUTS.has(type) || type === "")) return null;
  if (tag === "INPUT" && type === "range" && (key === "ArrowLeft" || key === "ArrowRight")) return null;
  if ((tag === "BUTTON" || tag === "A" || tag === "SUMMARY") && key === " ") return null;
  return action;
}
