// The player page: wires the session socket, the store, the sync controller and the views together.

import { getSession, parseSessionKey, playerLink } from "./api.js";
import { ChatLog, bindChat } from "./chat.js";
import { ClockEstimator } from "./clock.js";
import { Controls } from "./controls.js";
import { $, bindCopyLink, showError } from "./dom.js";
import { LocalControls } from "./local-controls.js";
import { packagingText, seekableEnd } from "./media-source.js";
import { MediaSwitcher } from "./media-switcher.js";
import { installGroupControls } from "./group-controls.js";
import { bindMembers, displayName } from "./members.js";
import { bindLock, memberActions, passwordPrompt, refusalFor } from "./moderation.js";
import { Playback } from "./playback.js";
import { SyncSocket, localNow } from "./socket.js";
import { SubtitleTracks } from "./subtitles.js";
import { GONE, SessionStore, goneForClose, goneMessage } from "./store.js";
import { SyncController } from "./sync.js";
import { hostTokenFor, takeStartVideo } from "./tokens.js";

const query = new URLSearchParams(location.search);
const sessionKey = parseSessionKey(query.get("sessionKey"));
const transport = query.get("transport") ?? "auto"; // "mp4" | "hls" | "auto"
const storageKeys = {
  resume: `videosync:resume:${sessionKey}`,
  password: `videosync:password:${sessionKey}`,
  name: "videosync:name",
};

const CONNECTION_TEXT = {
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
};

/** The connection badge of a page that cannot watch: the session is over, or this tab is not let in. */
const goneStatus = (why) => ([GONE.KICKED, GONE.BANNED, GONE.LOCKED].includes(why) ? "not admitted" : "session over");

let noticeTimer = null;
function showNotice(message) {
  const el = $("[data-notice]");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

/**
 * The one state of a page whose session cannot be watched: says why, offers a new session, and
 * hides everything that only makes sense in a live session (members, "Make host", sharing).
 */
function showGone(why) {
  const { title, detail } = goneMessage(why);
  showError("");
  $("[data-gone-title]").textContent = title;
  $("[data-gone-detail]").textContent = detail;
  $("[data-gone]").hidden = false;
  $("[data-overlay]").hidden = true;
  for (const input of document.querySelectorAll("[data-controls] :is(button, input, select)")) input.disabled = true;
  document.body.dataset.gone = why;
  const conn = $("[data-connection]");
  conn.dataset.state = "closed";
  conn.textContent = goneStatus(why);
  document.title = `videosync — ${title.toLowerCase()}`;
  $("[data-new-session]").focus({ preventScroll: true });
}

async function main() {
  if (!sessionKey) {
    showGone(GONE.MISSING);
    return;
  }
  $("[data-share-link]").value = playerLink(sessionKey);
  bindCopyLink($("[data-share-panel]"));
  // One request says whether the session exists and which video it shows, so the video starts
  // loading while the socket is still connecting (a late joiner catches up sooner). The page's
  // early start (player.html) has sent it already, and opened the socket.
  const early = window.videosyncEarly?.key === sessionKey ? window.videosyncEarly : null;
  if (window.videosyncEarly && !early) window.videosyncEarly.ws?.close(1000);
  const info = getSession(sessionKey, early?.session).catch((err) => err);

  const video = $("[data-video]");
  const store = new SessionStore(sessionKey);
  const clock = new ClockEstimator();
  const controller = new SyncController(store);
  const socket = new SyncSocket({
    clock,
    early,
    params: () => ({
      sessionKey,
      hostToken: hostTokenFor(sessionKey),
      resume: sessionStorage.getItem(storageKeys.resume),
      name: localStorage.getItem(storageKeys.name),
      password: sessionStorage.getItem(storageKeys.password),
    }),
  });
  const serverNow = () => clock.serverNow(localNow());
  const position = () => controller.target(serverNow(), video.duration) ?? 0;
  let group = null; // group playback (control mode, buffering gate): installed below
  const playback = new Playback(video, controller, clock, { now: localNow, report: (m) => socket.send(group ? group.report(m) : m) });
  const controls = new Controls(document, store, {
    position,
    send: (partial) => {
      const s = store.playback;
      if (!s || !store.canControl) return;
      const state = { paused: s.paused, currentTime: position(), playbackRate: s.playbackRate, ...partial };
      // A video still being packaged can only be sought up to what exists so far.
      const edge = seekableEnd(video);
      if (Number.isFinite(edge) && edge > 0) state.currentTime = Math.min(state.currentTime, Math.max(0, edge - 0.5));
      socket.send({ type: "stateUpdate", state });
    },
  });
  const subtitles = new SubtitleTracks(video);
  const local = new LocalControls({ root: document, video, container: $("[data-player]"), shared: controls, notify: showNotice, subtitles });
  const media = new MediaSwitcher(video, store, {
    transport,
    notify: showNotice,
    auth: () => ({ sessionKey, hostToken: hostTokenFor(sessionKey) }),
    onEntry: (entry) => subtitles.show(entry?.subtitles ?? []),
  });
  group = installGroupControls({ store, socket, playback, video, root: document, displayName });

  const chat = new ChatLog();
  const prompt = passwordPrompt(
    { form: $("[data-password-form]"), input: $("[data-password-input]"), message: $("[data-password-message]") },
    { storageKey: storageKeys.password, onSubmit: () => socket.connect() },
  );

  // Server → store; every view below renders from the store's change events.
  socket.addEventListener("message", ({ detail: msg }) => {
    chat.handle(msg, store); // first: a member who leaves still has a name for the system line
    if (msg.type === "init") {
      if (msg.resumeToken) sessionStorage.setItem(storageKeys.resume, msg.resumeToken);
      controller.reset(); // a new connection (maybe a new server) is the authority now
    }
    store.handle(msg);
  });
  socket.addEventListener("status", ({ detail }) => store.setConnection(detail));
  socket.addEventListener("closed", ({ detail }) => {
    const refusal = refusalFor(detail.code, detail.reason);
    if (refusal?.password) {
      prompt.show(refusal.password); // the connection badge says "password needed" meanwhile
      return;
    }
    if (refusal?.gone) {
      store.end(refusal.gone);
      return;
    }
    const why = goneForClose(detail.code);
    if (why) store.end(why);
    else if (detail.final) store.fail(detail.final);
  });

  bindMembers(
    { panel: $("[data-members-panel]"), list: $("[data-members]"), countEl: $("[data-member-count]") },
    store,
    (id) => socket.send({ type: "transferHost", memberId: id }),
    memberActions(store, (m) => socket.send(m)),
  );
  store.addEventListener("change", () => group.decorateMembers($("[data-members]"))); // after the list is drawn
  bindLock({ panel: $("[data-moderation-panel]"), button: $("[data-lock]"), badge: $("[data-locked-badge]") }, store,
    (m) => socket.send(m));
  bindChat(
    {
      panel: $("[data-chat-panel]"), list: $("[data-chat-log]"), form: $("[data-chat-form]"),
      overlay: $("[data-chat-overlay]"), overlayForm: $("[data-chat-overlay-form]"),
    },
    chat, store, (text) => socket.send({ type: "chat", text }),
  );
  store.addEventListener("change", ({ detail: what }) => {
    const conn = $("[data-connection]");
    conn.dataset.state = store.connection;
    const asking = store.connection === "closed" && !$("[data-password-form]").hidden;
    conn.textContent = store.gone ? goneStatus(store.gone) : asking ? "password needed"
      : CONNECTION_TEXT[store.connection] ?? store.connection;
    const role = $("[data-role-badge]");
    role.textContent = store.joined ? (store.isHost ? "host" : "participant") : "…";
    role.dataset.role = store.isHost ? "host" : "participant";
    document.body.dataset.viewer = role.dataset.role;
    $("[data-host-only]").hidden = !store.canControl;
    if (what === "error") showError(store.error ?? "");
    if (what === "init") showError(""); // joined (again): whatever went wrong before is over
    if (what === "notice" && store.notice) showNotice(store.notice);
    if (what === "playback" && !store.gone) media.show(store.playback.video ?? null);
    if (what === "media" || what === "playback") {
      // Packaging progress of the video being watched, as the server pushes it.
      const id = store.playback?.video;
      const text = id ? packagingText(store.mediaStatus(id)) : null;
      $("[data-media-status]").hidden = text === null;
      $("[data-media-status]").textContent = text ?? "";
    }
    if (what === "gone") {
      // Nothing is live any more: no reconnecting, no media, no stale controls.
      socket.close();
      playback.stop();
      // no cue left over the "ended" message (a removed track's last cue stays drawn otherwise)
      for (const track of video.textTracks) track.mode = "disabled";
      subtitles.show([]);
      media.stop();
      store.setConnection("closed");
      showGone(store.gone);
    }
    if (what === "init" && store.isHost) startUploadedVideo();
    if (what === "host" || what === "init") media.refreshLibrary(store.canControl, store.playback?.video ?? null);
  });

  playback.addEventListener("autoplayblocked", () => { $("[data-overlay]").hidden = false; });
  $("[data-overlay]").addEventListener("click", () => {
    $("[data-overlay]").hidden = true;
    playback.unlock();
  });
  playback.addEventListener("tick", () => controls.tick(video.currentTime, Number.isFinite(video.duration) ? video.duration : seekableEnd(video)));

  $("[data-name]").value = localStorage.getItem(storageKeys.name) ?? "";
  $("[data-name-form]").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("[data-name]").value.trim().slice(0, 40);
    localStorage.setItem(storageKeys.name, name);
    socket.send({ type: "setName", name });
  });
  const switchVideo = (id) => socket.send({ type: "stateUpdate", state: { video: id, currentTime: 0, paused: true, playbackRate: 1 } });
  $("[data-video-select]").addEventListener("change", (event) => {
    const id = event.target.value;
    if (store.canControl && id) switchVideo(id);
  });
  // The home page uploaded a video for this session: the host's first connection switches to it.
  function startUploadedVideo() {
    const id = takeStartVideo(sessionKey);
    if (id && store.playback?.video !== id) switchVideo(id);
  }

  video.addEventListener("error", async () => {
    if (!(await media.failed())) showNotice("This video could not be played in this browser.");
  });

  // Hooks for the browser tests and for debugging in the console.
  window.videosync = { store, controller, clock, socket, playback, video, media, local, subtitles, chat };
  socket.connect();
  playback.start();

  const session = await info;
  if (session instanceof Error) {
    if (session.status === 404) store.end(GONE.MISSING);
    else showError(session.message);
    return;
  }
  if (store.playback === null && !store.gone) media.show(session.video ?? session.state?.video ?? null);
}

main();
