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

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
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

export function getSession(key) {
  return request("GET", `/api/sessions/${enc(key)}`);
}

/** The video library: a list of {id, name, …, status/progress while packaging}. */
export async function listVideos() {
  const data = await request("GET", "/api/videos");
  return Array.isArray(data) ? data : (data?.videos ?? []);
}

export function getVideo(id) {
  return request("GET", `/api/videos/${enc(id)}`);
}

/**
 * Upload a file with progress (fetch cannot report upload progress, XHR can).
 * onProgress(fraction 0..1). Resolves to the server's JSON answer (the new video).
 */
export function uploadVideo(file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/videos?filename=${enc(file.name)}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
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
