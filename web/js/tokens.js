// What this tab remembers about the sessions it created, in sessionStorage (per tab, gone with
// it): the host token, presented when connecting and when uploading, and the video an upload made
// for the session, for the player to switch to once it is host. Nobody ever has to see a token.

export const hostTokenKey = (sessionKey) => `videosync:hostToken:${sessionKey}`;
export const startVideoKey = (sessionKey) => `videosync:startVideo:${sessionKey}`;

export function rememberHostToken(sessionKey, token, storage = globalThis.sessionStorage) {
  if (token) storage.setItem(hostTokenKey(sessionKey), token);
}

export function hostTokenFor(sessionKey, storage = globalThis.sessionStorage) {
  return storage.getItem(hostTokenKey(sessionKey));
}

export function rememberStartVideo(sessionKey, videoId, storage = globalThis.sessionStorage) {
  storage.setItem(startVideoKey(sessionKey), videoId);
}

/** The video to start the session with, once: reading it forgets it. */
export function takeStartVideo(sessionKey, storage = globalThis.sessionStorage) {
  const id = storage.getItem(startVideoKey(sessionKey));
  if (id !== null) storage.removeItem(startVideoKey(sessionKey));
  return id;
}
