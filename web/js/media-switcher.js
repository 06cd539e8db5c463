// Loads the session's current video into the <video> element and follows its packaging from the
// server's pushed `mediaStatus` messages (kept in the store): one GET when a video is chosen, no
// polling. Also keeps the host's video picker filled.

import { getVideo, listVideos } from "./api.js";
import { $, fillVideoSelect } from "./dom.js";
import { attachSource, sourcesFor, withStatus } from "./media-source.js";

/** Delay before loading a source again after network failure n (0-based): 1, 2, 4, 4… s. */
export function retryDelay(attempt) {
  return 1000 * Math.min(4, 2 ** attempt);
}

/** Whether the server answers for `url` at all (any HTTP status: only a network failure is false). */
async function reachable(url) {
  try {
    await fetch(url, { method: "HEAD", cache: "no-store" });
    return true;
  } catch {
    return false;
  }
}

export class MediaSwitcher {
  /** `transport`: the page's ?transport= ("auto" | "hls" | "mp4"); `notify(text)`: a passing notice. */
  constructor(video, store, { transport = "auto", notify = () => {}, auth = () => null, onEntry = () => {} } = {}) {
    this.video = video;
    this.store = store;
    this.transport = transport;
    this.notify = notify;
    this.auth = auth; // () => {sessionKey, hostToken} when this page is the host's (lists its uploads)
    this.current = undefined; // undefined: nothing loaded yet; null: the default video
    this.handle = null;
    this.library = [];
    this.mp4Failed = new Set();
    this.stopped = false;
    this.onEntry = onEntry; // (entry | null) once a video is loaded: its subtitles are attached
    this.retry = null; // the timer of a load tried again after a network failure
    this.retries = 0; // network failures in a row (reset once a video loads)
    video.addEventListener("loadeddata", () => { this.retries = 0; });
  }

  /** The library entry of `id` (null: the default video), with the freshest packaging status. */
  async entry(id) {
    if (id === null) return null;
    let entry = this.library.find((v) => v.id === id);
    if (!entry) entry = await getVideo(id, this.auth()).catch(() => null);
    return withStatus(entry ?? { id }, this.store.mediaStatus(id));
  }

  /** Resolves with the pushed status once `id` has an HLS playlist (or failed, or was left). */
  packaged(id) {
    return new Promise((resolve) => {
      const check = () => {
        const status = this.store.mediaStatus(id);
        if (this.current === id && !this.stopped && !status?.playlist && status?.status !== "failed") return;
        this.store.removeEventListener("change", onChange);
        resolve(status);
      };
      const onChange = ({ detail }) => {
        if (detail === "media" || detail === "gone") check();
      };
      this.store.addEventListener("change", onChange);
      check();
    });
  }

  /** The session is gone: unload the video for good. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this.current = undefined;
    this.handle?.destroy();
    this.handle = null;
    this.video.pause();
    this.onEntry(null);
  }

  async show(id) {
    if (this.stopped || id === this.current) return;
    clearTimeout(this.retry);
    this.current = id;
    this.handle?.destroy();
    this.handle = null;
    try {
      let entry = await this.entry(id);
      let sources = sourcesFor(entry);
      // HLS asked for (or the original turned out unplayable) but the packager has not written
      // the first segments yet: the server pushes the playlist's address as soon as it exists.
      if (sources.live && !sources.hls && (this.transport === "hls" || this.mp4Failed.has(id))) {
        this.notify("Preparing this video for streaming…");
        entry = withStatus(entry, await this.packaged(id));
        sources = sourcesFor(entry);
      }
      if (this.current !== id) return; // switched again meanwhile
      if (this.mp4Failed.has(id)) sources = { ...sources, mp4: null };
      this.handle = await attachSource(this.video, sources, {
        prefer: this.transport,
        onFatal: () => this.notify("Streaming failed; playing the original file instead."),
      });
      this.video.dataset.transport = this.handle.kind;
      this.onEntry(entry);
    } catch (err) {
      this.store.fail(`This video cannot be played: ${err.message}`);
    }
  }

  /**
   * The element failed to load or play its source. A source the server does not answer for (the
   * network is down, or cut for this page) is loaded again later — it is no reason to give the
   * file up — with backoff, and at once when the browser says it is back online. Returns whether
   * that, or another source, was tried (false: nothing left to try).
   */
  async failed() {
    const id = this.current;
    const src = this.video.getAttribute("src");
    if (src && !src.startsWith("blob:") && !(await reachable(src))) {
      if (this.current !== id) return true; // switched meanwhile
      this.retryLater(id);
      return true;
    }
    return this.originalFailed();
  }

  retryLater(id) {
    clearTimeout(this.retry);
    const delay = retryDelay(this.retries++);
    const again = () => {
      clearTimeout(this.retry);
      globalThis.removeEventListener?.("online", again);
      if (this.stopped || this.current !== id) return;
      this.current = undefined;
      this.show(id);
    };
    this.retry = setTimeout(again, delay);
    globalThis.addEventListener?.("online", again, { once: true });
  }

  /** The original file could not be decoded here: use its HLS packaging instead. */
  async originalFailed() {
    const id = this.current;
    if (this.handle?.kind !== "mp4" || id === null || id === undefined || this.mp4Failed.has(id)) return false;
    this.mp4Failed.add(id);
    this.current = undefined;
    await this.show(id);
    return true;
  }

  async refreshLibrary(isHost, selected) {
    if (!isHost) return;
    this.library = await listVideos(this.auth()).catch(() => this.library);
    fillVideoSelect($("[data-video-select]"), this.library, { withDefault: selected === null, selected: selected ?? "" });
  }
}
