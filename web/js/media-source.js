// Puts a video into the <video> element: HLS (native where the browser has it and the playlist
// allows, hls.js over MSE otherwise) with progressive MP4 over HTTP ranges as the fallback.

const HLS_MODULE = "/vendor/hls/hls.min.mjs"; // hls.js from npm, served by our server (no CDN)
const HLS_MIME = "application/vnd.apple.mpegurl";

/** Packaging states of the media API's `hls.status` (PROTOCOL.md §4). */
export const PACKAGING_STATES = Object.freeze(["queued", "packaging"]);

/**
 * The URLs of one library entry of `GET /api/videos` (or of the Go-compatible default video when
 * entry is null): {mp4, hls, live}; `live` means the HLS playlist is still growing.
 */
export function sourcesFor(entry) {
  if (!entry) return { mp4: "/api/video", hls: null, live: false };
  const hls = entry.hls && typeof entry.hls === "object" ? entry.hls : null;
  const playlist = typeof entry.hls === "string" ? entry.hls : hls?.playlist ?? null;
  const mp4 = entry.file ?? `/api/videos/${encodeURIComponent(entry.id)}/file`;
  return { mp4, hls: playlist, live: PACKAGING_STATES.includes(hls?.status) };
}

/** `entry` with its packaging status replaced by a fresher one (a pushed `mediaStatus`). */
export function withStatus(entry, status) {
  return status ? { ...entry, hls: status } : entry;
}

/**
 * What to tell viewers about a video's packaging status (the media API's `hls` object), or null
 * when there is nothing to say (ready, never packaged, or no status).
 */
export function packagingText(status) {
  const p = Number.isFinite(status?.progress) ? ` ${Math.round(status.progress * 100)} %` : "";
  switch (status?.status) {
    case "queued":
      return "Waiting to be prepared for streaming…";
    case "packaging":
      return `Preparing for streaming${p}`;
    case "failed":
      return `Could not prepare this video for streaming${status.message ? `: ${status.message}` : "."}`;
    default:
      return null;
  }
}

let hlsModule = null;
async function loadHls() {
  hlsModule ??= import(HLS_MODULE).then((m) => m.default);
  return hlsModule;
}

/**
 * HLS first (native, else hls.js), progressive MP4 when there is no HLS, hls.js is unavailable or
 * fails. `prefer`: "auto" | "hls" | "mp4" (the page's ?transport= query; tests pin one).
 */
export async function attachSource(video, sources, { prefer = "auto", onFatal = () => {} } = {}) {
  if (sources.hls && prefer !== "mp4") {
    // Safari plays EVENT playlists natively; Chromium's native HLS only finished ones reliably.
    if (video.canPlayType(HLS_MIME) !== "" && (!sources.live || isSafari())) {
      return plain(video, sources.hls, "hls-native");
    }
    try {
      const Hls = await loadHls();
      if (Hls.isSupported()) return viaHlsJs(Hls, video, sources, onFatal);
    } catch (err) {
      console.warn("hls.js could not be loaded, falling back to MP4", err);
    }
  }
  if (sources.mp4) return plain(video, sources.mp4, "mp4");
  if (sources.hls) return plain(video, sources.hls, "hls-native");
  throw new Error("This browser cannot play this video.");
}

function isSafari() {
  const ua = globalThis.navigator?.userAgent ?? "";
  return /Safari\//.test(ua) && !/Chrom(e|ium)\//.test(ua);
}

function plain(video, url, kind) {
  // the page's early start may have begun loading this very file: keep what it loaded
  if (video.getAttribute("src") !== url || video.error) {
    video.src = url;
    video.load();
  }
  return { kind, destroy: () => { video.removeAttribute("src"); video.load(); } };
}

function viaHlsJs(Hls, video, sources, onFatal) {
  const hls = new Hls({
    // EVENT playlists grow while packaging: never let hls.js treat them as live and chase the edge.
    liveDurationInfinity: false,
    startPosition: -1,
    backBufferLength: 30,
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    hls.destroy();
    if (sources.mp4) plain(video, sources.mp4, "mp4");
    onFatal(data);
  });
  hls.loadSource(sources.hls);
  hls.attachMedia(video);
  return { kind: "hls.js", hls, destroy: () => hls.destroy() };
}

/** The last position that can be played now: the packaged edge of a growing HLS video. */
export function seekableEnd(video) {
  const r = video.seekable;
  return r && r.length ? r.end(r.length - 1) : NaN;
}
