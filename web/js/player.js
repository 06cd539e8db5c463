// The player page: wires the session socket, the store, the sync controller and the views together.

import { getSession, getVideo, listVideos, parseSessionKey, playerLink } from "./api.js";
import { ClockEstimator } from "./clock.js";
import { Controls } from "./controls.js";
import { installGroupControls } from "./group-controls.js";
import { attachSource, seekableEnd, sourcesFor } from "./media-source.js";
import { displayName, renderMembers } from "./members.js";
import { Playback } from "./playback.js";
import { SyncSocket, localNow } from "./socket.js";
import { SessionStore } from "./store.js";
import { SyncController } from "./sync.js";

const $ = (selector) => document.querySelector(selector);
const query = new URLSearchParams(location.search);
const sessionKey = parseSessionKey(query.get("sessionKey"));
const transport = query.get("transport") ?? "auto"; // "mp4" | "hls" | "auto"
const storageKeys = {
  hostToken: `videosync:hostToken:${sessionKey}`,
  resume: `videosync:resume:${sessionKey}`,
  name: "videosync:name",
};

const CONNECTION_TEXT = {
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
};

function showError(message) {
  const el = $("[data-error]");
  el.textContent = message;
  el.hidden = !message;
}

let noticeTimer = null;
function showNotice(message) {
  const el = $("[data-notice]");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

async function main() {
  if (!sessionKey) {
    showError("This link has no session key. Go to the home page to create or join a session.");
    return;
  }
  $("[data-share-link]").value = playerLink(sessionKey);
  $("[data-copy]").addEventListener("click", async () => {
    const link = $("[data-share-link]");
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      link.select(); // no clipboard permission: leave it selected for a manual copy
    }
    $("[data-copied]").hidden = false;
  });
  // One request says whether the session exists and which video it shows, so the video starts
  // loading while the socket is still connecting (a late joiner catches up sooner).
  const info = getSession(sessionKey).catch((err) => err);

  const video = $("[data-video]");
  const store = new SessionStore(sessionKey);
  const clock = new ClockEstimator();
  const controller = new SyncController();
  const socket = new SyncSocket({
    clock,
    params: () => ({
      sessionKey,
      hostToken: sessionStorage.getItem(storageKeys.hostToken),
      resume: sessionStorage.getItem(storageKeys.resume),
      name: localStorage.getItem(storageKeys.name),
    }),
  });
  const serverNow = () => clock.serverNow(localNow());
  const position = () => controller.target(serverNow(), video.duration) ?? 0;
  let group = null; // group playback (control mode, buffering gate): installed below
  const playback = new Playback(video, controller, clock, { now: localNow, report: (m) => socket.send(group ? group.report(m) : m) });
  const controls = new Controls(document, {
    position,
    send: (partial) => {
      const s = controller.state;
      if (!s || !store.canControl) return;
      const state = { paused: s.paused, currentTime: position(), playbackRate: s.playbackRate, ...partial };
      // A video still being packaged can only be sought up to what exists so far.
      const edge = seekableEnd(video);
      if (Number.isFinite(edge) && edge > 0) state.currentTime = Math.min(state.currentTime, Math.max(0, edge - 0.5));
      socket.send({ type: "stateUpdate", state });
    },
  });
  const media = createMediaSwitcher(video, store);
  group = installGroupControls({ store, socket, playback, video, root: document, displayName });

  socket.addEventListener("message", ({ detail: msg }) => {
    if (msg.type === "init") {
      if (msg.resumeToken) sessionStorage.setItem(storageKeys.resume, msg.resumeToken);
      controller.reset(); // a new connection (maybe a new server) is the authority now
    }
    const state = store.handle(msg);
    if (state && controller.accept(state)) {
      controls.render(controller.state, store);
      media.show(state.video ?? null);
    }
  });
  socket.addEventListener("status", ({ detail }) => store.setConnection(detail));
  socket.addEventListener("closed", ({ detail }) => {
    if (detail.final) store.fail(detail.final);
  });

  const render = ({ detail: what }) => {
    const conn = $("[data-connection]");
    conn.dataset.state = store.connection;
    conn.textContent = CONNECTION_TEXT[store.connection] ?? store.connection;
    const role = $("[data-role-badge]");
    role.textContent = store.memberId || store.isHost ? (store.isHost ? "host" : "participant") : "…";
    role.dataset.role = store.isHost ? "host" : "participant";
    document.body.dataset.viewer = role.dataset.role;
    $("[data-host-only]").hidden = !store.canControl;
    renderMembers($("[data-members]"), $("[data-member-count]"), store, (id) => socket.send({ type: "transferHost", memberId: id }));
    group.decorateMembers($("[data-members]"));
    controls.render(controller.state, store);
    if (what === "error") showError(store.error ?? "");
    if (what === "init") showError(""); // joined (again): whatever went wrong before is over
    if (what === "notice" && store.notice) showNotice(store.notice);
    if (what === "host" || what === "init") media.refreshLibrary(store.canControl, controller.state?.video ?? null);
  };
  store.addEventListener("change", render);

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
  $("[data-video-select]").addEventListener("change", (event) => {
    const id = event.target.value;
    if (store.canControl && id) socket.send({ type: "stateUpdate", state: { video: id, currentTime: 0, paused: true, playbackRate: 1 } });
  });

  video.addEventListener("error", async () => {
    if (!(await media.originalFailed())) showNotice("This video could not be played in this browser.");
  });

  // Hooks for the browser tests and for debugging in the console.
  window.videosync = { store, controller, clock, socket, playback, video, media };
  socket.connect();
  playback.start();

  const session = await info;
  if (session instanceof Error) {
    if (session.status === 404) {
      socket.close();
      store.setConnection("closed");
      showError("This session does not exist (or has ended). Check the key, or create a new session.");
    } else {
      showError(session.message);
    }
    return;
  }
  if (controller.state === null) media.show(session.video ?? session.state?.video ?? null);
}

/** Loads the session's current video into the element, and keeps the host's video picker filled. */
function createMediaSwitcher(video, store) {
  let current; // undefined: nothing loaded yet; null: the default video
  let handle = null;
  let library = [];
  const mp4Failed = new Set();
  const findEntry = async (id) => {
    if (id === null) return null;
    let entry = library.find((v) => v.id === id);
    if (!entry) {
      library = await listVideos().catch(() => library);
      entry = library.find((v) => v.id === id);
    }
    return entry ?? { id };
  };
  return {
    async show(id) {
      if (id === current) return;
      current = id;
      handle?.destroy();
      handle = null;
      try {
        let sources = sourcesFor(await findEntry(id));
        // HLS asked for (or the original turned out unplayable) but the packager has not written
        // the first segments yet: wait for the playlist, it appears within seconds.
        while (current === id && sources.live && !sources.hls && (transport === "hls" || mp4Failed.has(id))) {
          showNotice("Preparing this video for streaming…");
          await new Promise((r) => setTimeout(r, 1000));
          sources = sourcesFor(await getVideo(id).catch(() => null));
        }
        if (current !== id) return; // switched again meanwhile
        if (mp4Failed.has(id)) sources = { ...sources, mp4: null };
        handle = await attachSource(video, sources, {
          prefer: transport,
          onFatal: () => showNotice("Streaming failed; playing the original file instead."),
        });
        video.dataset.transport = handle.kind;
      } catch (err) {
        store.fail(`This video cannot be played: ${err.message}`);
      }
    },
    /** The original file could not be decoded here: use its HLS packaging instead. */
    async originalFailed() {
      if (handle?.kind !== "mp4" || current === null || current === undefined || mp4Failed.has(current)) return false;
      const id = current;
      mp4Failed.add(id);
      current = undefined;
      await this.show(id);
      return true;
    },
    async refreshLibrary(isHost, selected) {
      if (!isHost) return;
      library = await listVideos().catch(() => library);
      const select = $("[data-video-select]");
      const options = library.map((v) => {
        const o = document.createElement("option");
        o.value = v.id;
        o.textContent = v.title ?? v.name ?? v.id; // file names come from uploaders: text only
        return o;
      });
      if (selected === null) {
        const o = document.createElement("option");
        o.value = "";
        o.textContent = "(default video)";
        options.unshift(o);
      }
      select.replaceChildren(...options);
      select.value = selected ?? "";
    },
  };
}

main();
