// REST client for the videosync server (same origin). Every failure becomes an ApiError whose
// message can be shown to a person as it is.

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0: the server could not be reached
  }
}

const UNREACHABLE = "The server cannot be reached. Check your connection and try again.";

/** The header that says "I am this session's host" (uploads and listing a session's uploads). */
export function authHeaders(hostToken) {
  return hostToken ? { Authorization: `Bearer ${hostToken}` } : {};
}

function request(method, path, body, hostToken = null) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders(hostToken) } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(fetch(path, init));
}

/** The JSON of a pending `fetch`, or an ApiError a person can read. */
async function answer(pending) {
  let response;
  try {
    response = await pending;
  } catch {
    throw new ApiError(UNREACHABLE, 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // Go-style text/plain errors carry no JSON
  }
  if (!response.ok) {
    const reason = data && typeof data.error === "string" ? data.error : response.statusText;
    throw new ApiError(`${reason || "request failed"} (HTTP ${response.status})`, response.status);
  }
  return data;
}

const enc = encodeURIComponent;

/** `POST /api/sessions` → {sessionKey, hostToken}. `video` picks a library video, `password`
 * protects the session (both optional). */
export function createSession(video, password) {
  const body = { ...(video ? { video } : {}), ...(password ? { password } : {}) };
  return request("POST", "/api/sessions", Object.keys(body).length ? body : undefined);
}

/** `GET /api/sessions/{key}/validate` → boolean. */
export async function validateSession(key) {
  const data = await request("GET", `/api/sessions/${enc(key)}/validate`);
  return Boolean(data && data.valid);
}

/** `GET /api/sessions/{key}`; `pending`: that request already sent (the page's early start). */
export function getSession(key, pending = null) {
  return pending ? answer(pending) : request("GET", `/api/sessions/${enc(key)}`);
}

/**
 * `path` as the host of a session: the server needs the session's key beside its token, since a
 * token alone names no session. `host` is {sessionKey, hostToken} or null.
 */
export function asHost(path, host) {
  if (!host?.sessionKey || !host?.hostToken) return path;
  return `${path}${path.includes("?") ? "&" : "?"}session=${enc(host.sessionKey)}`;
}

/**
 * The video library: a list of {id, name, …, status/progress while packaging}. As a session's
 * host (`host` = {sessionKey, hostToken}) the list also holds that session's uploads.
 */
export async function listVideos(host = null) {
  const data = await request("GET", asHost("/api/videos", host), undefined, host?.hostToken);
  return Array.isArray(data) ? data : (data?.videos ?? []);
}

export function getVideo(id, host = null) {
  return request("GET", asHost(`/api/videos/${enc(id)}`, host), undefined, host?.hostToken);
}

/**
 * Upload a file as the host of a session (`host` = {sessionKey, hostToken}: the token goes in the
 * Authorization header, the key in the query) with
 * progress (fetch cannot report upload progress, XHR can). onProgress(fraction 0..1). Resolves to
 * the server's JSON answer (the new video).
 */
export function uploadVideo(file, host, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", asHost(`/api/videos?filename=${enc(file.name)}`, host));
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    for (const [name, value] of Object.entries(authHeaders(host?.hostToken))) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(`${data?.error || "upload failed"} (HTTP ${xhr.status})`, xhr.status));
    });
    xhr.addEventListener("error", () => reject(new ApiError(UNREACHABLE, 0)));
    xhr.addEventListener("abort", () => reject(new ApiError("Upload cancelled.", 0)));
    xhr.send(file);
  });
}

/** A session key out of whatever was pasted: the bare key or a player link holding it. */
export function parseSessionKey(text) {
  const raw = String(text ?? "").trim();
  if (!raw) return null;
  const uuid = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
  try {
    const url = new URL(raw);
    const key = url.searchParams.get("sessionKey");
    if (key) return key.trim();
  } catch {
    // not a URL: fall through
  }
  const m = raw.match(uuid);
  return m ? m[0].toLowerCase() : raw;
}

export function playerLink(key, origin = globalThis.location?.origin ?? "") {
  return `${origin}/pages/player.html?sessionKey=${enc(key)}`;
}
