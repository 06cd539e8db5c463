// What each viewer chooses for themselves and keeps across visits (volume, mute). Local only:
// none of it is ever sent to the server or touches the shared playback state.

export const VOLUME_KEY = "videosync:volume";
export const DEFAULT_VOLUME = Object.freeze({ volume: 1, muted: false });

/** The remembered {volume 0..1, muted} from `storage` (a Storage), defaults for anything odd. */
export function loadVolume(storage) {
  let saved = null;
  try {
    saved = JSON.parse(storage?.getItem(VOLUME_KEY) ?? "null");
  } catch {
    saved = null;
  }
  const volume = Number(saved?.volume);
  return {
    volume: Number.isFinite(volume) ? Math.min(1, Math.max(0, volume)) : DEFAULT_VOLUME.volume,
    muted: saved?.muted === true,
  };
}

export function saveVolume(storage, { volume, muted }) {
  try {
    storage?.setItem(VOLUME_KEY, JSON.stringify({ volume, muted }));
  } catch {
    // storage full or disabled (private mode): the choice lasts for this page only
  }
}
