// The controls that belong to one viewer alone: volume and mute (remembered in this browser),
// fullscreen of the whole player, picture-in-picture, and the keyboard shortcuts. None of them
// sends anything: the shared playback state is changed only through Controls (host commands).

import { SEEK_STEP_S, shortcutFor } from "./keys.js";
import { loadVolume, saveVolume } from "./prefs.js";

const ICONS = {
  volume: '<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  muted: '<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M16 9l6 6M22 9l-6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  fullscreen: '<path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/>',
  exitFullscreen: '<path d="M9 4v5H4M20 9h-5V4M15 20v-5h5M4 15h5v5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/>',
  pip: '<rect x="3" y="5" width="18" height="14" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><rect x="12" y="11" width="7" height="6" rx="1"/>',
};

function setIcon(button, name) {
  if (button.dataset.icon === name) return;
  button.dataset.icon = name;
  button.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" fill="currentColor" aria-hidden="true">${ICONS[name]}</svg>`;
}

export class LocalControls extends EventTarget {
  /**
   * `container`: the element that goes fullscreen (video, overlays and controls); `shared`: the
   * Controls (play/pause and seek for whoever may control); `storage`: where volume is kept.
   */
  constructor({ root, video, container, shared, storage = globalThis.localStorage, notify = () => {}, subtitles = null }) {
    super();
    this.subtitles = subtitles; // a SubtitleTracks: the CC button cycles its languages
    this.video = video;
    this.container = container;
    this.shared = shared;
    this.storage = storage;
    this.notify = notify;
    this.el = {
      mute: root.querySelector("[data-mute]"),
      volume: root.querySelector("[data-volume]"),
      fullscreen: root.querySelector("[data-fullscreen]"),
      pip: root.querySelector("[data-pip]"),
      subtitles: root.querySelector("[data-subtitles]"),
    };

    const { volume, muted } = loadVolume(storage);
    video.volume = volume;
    video.muted = muted;
    video.addEventListener("volumechange", () => {
      saveVolume(this.storage, { volume: video.volume, muted: video.muted });
      this.render();
    });
    this.el.mute.addEventListener("click", () => this.toggleMute());
    this.el.volume.addEventListener("input", () => {
      video.volume = Number(this.el.volume.value);
      video.muted = video.volume === 0;
    });

    this.el.fullscreen.addEventListener("click", () => this.toggleFullscreen());
    document.addEventListener("fullscreenchange", () => this.render());
    // Element fullscreen is missing on iPhone Safari; there only the video itself can go fullscreen.
    this.el.fullscreen.hidden = !(container.requestFullscreen || video.webkitEnterFullscreen);

    this.el.pip.hidden = !(document.pictureInPictureEnabled && video.requestPictureInPicture);
    this.el.pip.addEventListener("click", () => this.togglePictureInPicture());
    video.addEventListener("enterpictureinpicture", () => this.render());
    video.addEventListener("leavepictureinpicture", () => this.render());

    this.el.subtitles.addEventListener("click", () => this.toggleSubtitles());
    video.textTracks?.addEventListener?.("addtrack", () => this.render());
    video.textTracks?.addEventListener?.("removetrack", () => this.render());

    document.addEventListener("keydown", (event) => this.onKey(event));
    this.render();
  }

  onKey(event) {
    const action = shortcutFor(event);
    if (action === null || this.shared.store.gone) return; // a gone session has nothing to drive
    event.preventDefault(); // Space would scroll the page, arrows move it
    const refuse = () => this.notify("Only the host controls playback.");
    switch (action) {
      case "togglePlay":
        if (this.shared.canControl) this.shared.togglePlay();
        else refuse();
        return;
      case "seekBack":
      case "seekForward":
        if (this.shared.canControl) this.shared.seekBy(action === "seekBack" ? -SEEK_STEP_S : SEEK_STEP_S);
        else refuse();
        return;
      case "fullscreen":
        this.toggleFullscreen();
        return;
      case "mute":
        this.toggleMute();
        return;
      case "subtitles":
        this.toggleSubtitles();
        return;
      default:
    }
  }

  toggleMute() {
    const v = this.video;
    if (v.muted || v.volume === 0) {
      v.muted = false;
      if (v.volume === 0) v.volume = 0.5; // unmuting to silence would look broken
    } else {
      v.muted = true;
    }
  }

  get isFullscreen() {
    return document.fullscreenElement === this.container;
  }

  async toggleFullscreen() {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else if (this.container.requestFullscreen) await this.container.requestFullscreen({ navigationUI: "hide" });
      else this.video.webkitEnterFullscreen?.();
    } catch (err) {
      this.notify(`Fullscreen is not available here (${err.message}).`);
    }
  }

  async togglePictureInPicture() {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await this.video.requestPictureInPicture();
    } catch (err) {
      this.notify(`Picture-in-picture is not available now (${err.message}).`);
    }
  }

  /**
   * Show or hide the video's subtitle track. The tracks themselves are attached by whoever loads
   * them (one `<track>` per language); with none this only says so. Fires "subtitles".
   */
  toggleSubtitles() {
    if (this.subtitles && this.subtitles.list.length > 0) {
      const track = this.subtitles.cycle();
      this.notify(track ? `Subtitles: ${track.label}` : "Subtitles off");
      this.render();
      this.dispatchEvent(new CustomEvent("subtitles", { detail: { on: track !== null, track } }));
      return;
    }
    const tracks = [...this.video.textTracks].filter((t) => t.kind === "subtitles" || t.kind === "captions");
    if (tracks.length === 0) {
      this.notify("This video has no subtitles.");
      return;
    }
    const showing = tracks.find((t) => t.mode === "showing");
    for (const t of tracks) t.mode = "disabled";
    if (!showing) tracks[0].mode = "showing";
    this.render();
    this.dispatchEvent(new CustomEvent("subtitles", { detail: { on: !showing } }));
  }

  render() {
    const v = this.video;
    const silent = v.muted || v.volume === 0;
    setIcon(this.el.mute, silent ? "muted" : "volume");
    this.el.mute.setAttribute("aria-label", silent ? "Unmute" : "Mute");
    this.el.mute.setAttribute("aria-pressed", String(silent));
    this.el.volume.value = String(v.muted ? 0 : v.volume);
    const full = this.isFullscreen;
    setIcon(this.el.fullscreen, full ? "exitFullscreen" : "fullscreen");
    this.el.fullscreen.setAttribute("aria-label", full ? "Exit fullscreen" : "Fullscreen");
    this.el.fullscreen.setAttribute("aria-pressed", String(full));
    setIcon(this.el.pip, "pip");
    this.el.pip.setAttribute("aria-pressed", String(document.pictureInPictureElement === v));
    const subs = [...v.textTracks].filter((t) => t.kind === "subtitles" || t.kind === "captions");
    this.el.subtitles.hidden = subs.length === 0;
    this.el.subtitles.setAttribute("aria-pressed", String(subs.some((t) => t.mode === "showing")));
  }
}
