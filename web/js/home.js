// Home page: create a session (with a library video or a fresh upload), share it, join one.

import { createSession, getVideo, listVideos, parseSessionKey, playerLink, uploadVideo, validateSession } from "./api.js";
import { $, bindCopyLink, fillVideoSelect, showError } from "./dom.js";

/** Packaging progress 0..1 of a media API entry (`hls.progress`), or null when it does not say. */
function packagingProgress(entry) {
  const p = entry?.hls?.progress;
  return Number.isFinite(p) ? p : null;
}

const packagingStatus = (entry) => entry?.hls?.status ?? "none";

async function fillVideoList(selectId) {
  const select = $("[data-video-list]");
  let videos = [];
  try {
    videos = await listVideos();
  } catch {
    return; // the default video still works; an unreachable server shows up on Create
  }
  fillVideoSelect(select, videos, { withDefault: true, selected: selectId ?? "" });
}

function showCreated(key) {
  const link = playerLink(key);
  $("[data-session-key]").textContent = key;
  $("[data-share-link]").value = link;
  $("[data-open-player]").href = link;
  $("[data-created]").hidden = false;
}

async function onCreate(event) {
  event.preventDefault();
  showError(null);
  const button = $("[data-create]");
  button.disabled = true;
  try {
    const video = $("[data-video-list]").value || undefined;
    const password = $("[data-create-password]").value || undefined;
    const { sessionKey, hostToken } = await createSession(video, password);
    // The creator's tab presents this token when it connects, and so becomes (and stays) host.
    if (hostToken) sessionStorage.setItem(`videosync:hostToken:${sessionKey}`, hostToken);
    showCreated(sessionKey);
  } catch (err) {
    showError(`Could not create a session: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function onJoin(event) {
  event.preventDefault();
  showError(null);
  const key = parseSessionKey($("[data-join-key]").value);
  if (!key) {
    showError("Enter a session key or paste a session link.");
    return;
  }
  try {
    if (await validateSession(key)) {
      location.href = playerLink(key);
    } else {
      showError("No session with this key exists. Check the key, or create a new session.");
    }
  } catch (err) {
    showError(err.message);
  }
}

async function onUpload(event) {
  event.preventDefault();
  showError(null);
  const file = $("[data-upload-file]").files[0];
  if (!file) {
    showError("Choose a video file to upload first.");
    return;
  }
  const status = $("[data-upload-status]");
  const label = $("[data-upload-label]");
  const bar = $("[data-upload-progress]");
  status.hidden = false;
  label.textContent = `Uploading ${file.name}…`;
  bar.value = 0;
  $("[data-upload]").disabled = true;
  try {
    const created = await uploadVideo(file, (f) => { bar.value = f; });
    const entry = created?.video ?? created;
    await fillVideoList(entry?.id);
    await followPackaging(entry, label, bar);
  } catch (err) {
    status.hidden = true;
    showError(`Upload failed: ${err.message}`);
  } finally {
    $("[data-upload]").disabled = false;
  }
}

/** Poll the new video until it is packaged; it can be watched (and a session created) meanwhile. */
async function followPackaging(entry, label, bar) {
  let current = entry;
  for (;;) {
    if (!current?.id) return;
    const status = packagingStatus(current);
    if (status === "failed") throw new Error(current.hls?.message || "the video could not be packaged");
    const p = packagingProgress(current);
    if (status === "ready" || status === "none") {
      label.textContent = "Ready. Create a session to watch it.";
      bar.value = 1;
      return;
    }
    const what = status === "queued" ? "Waiting to be prepared for streaming" : "Preparing for streaming";
    label.textContent = `${what}${p === null ? "…" : ` ${Math.round(p * 100)} %`} (you can already create a session)`;
    if (p === null) bar.removeAttribute("value");
    else bar.value = p;
    await new Promise((r) => setTimeout(r, 1000));
    current = await getVideo(current.id);
  }
}

$("[data-create-form]").addEventListener("submit", onCreate);
$("[data-join-form]").addEventListener("submit", onJoin);
$("[data-upload-form]").addEventListener("submit", onUpload);
bindCopyLink($("[data-created]"));
fillVideoList();
