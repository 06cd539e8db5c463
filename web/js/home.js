// Home page: create a session (with a library video, or by uploading one as its host), share it,
// join one. Host tokens stay in this tab's sessionStorage; the person never sees one.

import { createSession, listVideos, parseSessionKey, playerLink, uploadVideo, validateSession } from "./api.js";
import { $, bindCopyLink, fillVideoSelect, showError } from "./dom.js";
import { hostTokenFor, rememberHostToken, rememberStartVideo } from "./tokens.js";

let created = null; // {sessionKey, video} of the session this page created, once it has

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
    rememberHostToken(sessionKey, hostToken);
    created = { sessionKey };
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

/**
 * Upload as the host of a session: the session this page created, or a new one made for the
 * upload. The video is stored for that session; its player opens and switches to it (packaging
 * progress is shown there, pushed by the server).
 */
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
    if (!created) {
      const session = await createSession();
      rememberHostToken(session.sessionKey, session.hostToken);
      created = { sessionKey: session.sessionKey };
    }
    const { sessionKey } = created;
    const answer = await uploadVideo(file, { sessionKey, hostToken: hostTokenFor(sessionKey) }, (f) => { bar.value = f; });
    const entry = answer?.video ?? answer;
    if (!entry?.id) throw new Error("the server did not say which video it stored");
    rememberStartVideo(sessionKey, entry.id);
    label.textContent = "Uploaded. Opening the player…";
    bar.value = 1;
    location.href = playerLink(sessionKey);
  } catch (err) {
    status.hidden = true;
    showError(`Upload failed: ${err.message}`);
  } finally {
    $("[data-upload]").disabled = false;
  }
}

$("[data-create-form]").addEventListener("submit", onCreate);
$("[data-join-form]").addEventListener("submit", onJoin);
$("[data-upload-form]").addEventListener("submit", onUpload);
bindCopyLink($("[data-created]"));
fillVideoList();
