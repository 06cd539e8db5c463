// Subtitles of the video being watched, chosen by each viewer alone: one <track kind="subtitles">
// per track the media API lists (`subtitles: [{id, lang, label, url}]`), all off until this viewer
// turns one on. The choice (a language, or off) is remembered in this browser and applied to the
// next video that has that language. Nothing here is sent to the server.

export const SUBTITLES_KEY = "videosync:subtitles";
export const OFF = "off";

/** The remembered choice: a language tag, or OFF (the default). */
export function loadChoice(storage) {
  let saved = null;
  try {
    saved = storage?.getItem(SUBTITLES_KEY) ?? null;
  } catch {
    saved = null; // storage disabled: subtitles start off
  }
  return typeof saved === "string" && saved !== "" ? saved : OFF;
}

export function saveChoice(storage, choice) {
  try {
    storage?.setItem(SUBTITLES_KEY, choice);
  } catch {
    // storage full or disabled (private mode): the choice lasts for this page only
  }
}

const primary = (lang) => String(lang ?? "").toLowerCase().split("-")[0];

/**
 * Which of `tracks` ([{lang}]) to show for the remembered `choice`: the same language, else the
 * same primary language (`pt` for `pt-BR`), else none (-1) — never a language not asked for.
 */
export function pickTrack(tracks, choice) {
  if (!choice || choice === OFF) return -1;
  const exact = tracks.findIndex((t) => String(t.lang).toLowerCase() === choice.toLowerCase());
  if (exact !== -1) return exact;
  return tracks.findIndex((t) => primary(t.lang) === primary(choice));
}

/** The track after `current` (-1: off) in the cycle off → first → … → last → off. */
export function nextTrack(count, current) {
  if (count === 0) return -1;
  return current + 1 < count ? current + 1 : -1;
}

/** Only well-formed entries with a same-origin path: a track list from the API is data, not markup. */
export function usableTracks(list) {
  if (!Array.isArray(list)) return [];
  return list.filter((t) => t && typeof t.url === "string" && t.url.startsWith("/") && !t.url.startsWith("//"));
}

export class SubtitleTracks extends EventTarget {
  /** `video`: the <video>; `storage`: where the choice is kept. Fires "change" with {track|null}. */
  constructor(video, { storage = globalThis.localStorage } = {}) {
    super();
    this.video = video;
    this.storage = storage;
    this.list = [];
    this.elements = [];
    this.current = -1;
  }

  /** Attach the tracks of a newly loaded video (an empty list removes them). */
  show(list) {
    for (const el of this.elements) el.remove();
    this.list = usableTracks(list);
    this.elements = this.list.map((t) => {
      const el = this.video.ownerDocument.createElement("track");
      el.kind = "subtitles";
      el.label = String(t.label ?? t.lang ?? "");
      el.srclang = String(t.lang ?? "");
      el.src = t.url;
      el.dataset.trackId = String(t.id ?? "");
      this.video.append(el);
      return el;
    });
    this.select(pickTrack(this.list, loadChoice(this.storage)), { remember: false });
  }

  /** The CC button and the C key: the next track, or off after the last. */
  cycle() {
    this.select(nextTrack(this.list.length, this.current), { remember: true });
    return this.currentTrack;
  }

  get currentTrack() {
    return this.current === -1 ? null : this.list[this.current];
  }

  select(index, { remember }) {
    this.current = index;
    this.elements.forEach((el, i) => {
      // "hidden" would still load and run cues; a track not chosen is not fetched at all
      el.track.mode = i === index ? "showing" : "disabled";
    });
    if (remember) saveChoice(this.storage, index === -1 ? OFF : String(this.list[index].lang));
    this.dispatchEvent(new CustomEvent("change", { detail: { track: this.currentTrack } }));
  }
}
