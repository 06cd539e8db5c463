// Group playback on the player page: who controls (the host's mode and grants, shown in the member
// list and the controls) and the buffering gate ("waiting for Ana…", "don't wait for me", "play
// anyway", and readiness reports the gate relies on). Pure helpers first (unit-tested with
// node --test), then `installGroupControls`, the page's one hook.

const HAVE_FUTURE_DATA = 3;
// A switch whose source never reloads (the same media) counts as loaded after this long.
const SWITCH_SETTLE_MS = 3000;
const STALL_MS = 200;
// A seek (the host's, or the sync controller's own correction) buffers briefly on every player:
// only a longer wait at the new spot is a stall worth pausing the group for.
const SEEK_STALL_MS = 500;
// A playing element whose buffered media ends this close to its position has run dry: it stalls
// for as long as the network makes it, so it is reported at once. (Chromium's progressive player
// underflowed with up to 0.8 s shown as buffered ahead in scripts/bench/bench_buffer_gate.py's
// throttled viewer: `buffered` is coarse.) A dip of readyState with more media in hand (a busy
// machine's hiccup; a well-fed player holds many seconds) is reported only if it lasts STALL_MS.
const STARVED_S = 1.0;

/** Seconds of media buffered ahead of `time` in `ranges` (a TimeRanges): 0 outside every range. */
export function bufferedAhead(ranges, time) {
  for (let i = 0; i < (ranges?.length ?? 0); i++) {
    if (ranges.start(i) <= time + 1e-3 && time < ranges.end(i)) return ranges.end(i) - time;
  }
  return 0;
}

/**
 * How long a player that cannot play on (readyState below HAVE_FUTURE_DATA) must stay so before
 * it says `buffering`: at once when it plays and has nothing buffered ahead (a real stall), longer
 * after a seek, STALL_MS otherwise (still loading while paused, or a hiccup with data in hand).
 */
export function stallDelay({ seeking, paused, ahead }) {
  if (seeking) return SEEK_STALL_MS;
  if (!paused && ahead < STARVED_S) return 0;
  return STALL_MS;
}

/** Whether `memberId` may change playback under `control` ({mode, controllers}). */
export function mayControl(control, memberId, hostId) {
  if (!memberId) return false;
  if (memberId === hostId) return true;
  const mode = control?.mode ?? "host";
  if (mode === "everyone") return true;
  return mode === "delegated" && Array.isArray(control?.controllers) && control.controllers.includes(memberId);
}

/** "waiting for Ana…", "waiting for Ana and Bo…", "waiting for Ana, Bo and 2 others…". */
export function waitingText(ids, nameOf) {
  if (!Array.isArray(ids) || ids.length === 0) return "";
  const names = ids.map(nameOf);
  if (names.length === 1) return `waiting for ${names[0]}…`;
  if (names.length <= 3) return `waiting for ${names.slice(0, -1).join(", ")} and ${names.at(-1)}…`;
  return `waiting for ${names.slice(0, 2).join(", ")} and ${names.length - 2} others…`;
}

/** The grants after toggling `memberId` in or out. */
export function toggledGrant(controllers, memberId) {
  const list = Array.isArray(controllers) ? controllers : [];
  return list.includes(memberId) ? list.filter((id) => id !== memberId) : [...list, memberId];
}

/**
 * Hooks the page's parts together: `store` (SessionStore), `socket` (SyncSocket), `playback`
 * (its sendReport), `video` (<video>), `root` (document), `displayName(member)`.
 * Returns {report(m), decorateMembers(list), canControl()}.
 */
export function installGroupControls({ store, socket, playback, video, root, displayName }) {
  const $ = (s) => root.querySelector(s);
  const el = {
    mode: $("[data-control-mode]"),
    modePanel: $("[data-control-panel]"),
    waiting: $("[data-waiting]"),
    waitingText: $("[data-waiting-text]"),
    playAnyway: $("[data-play-anyway]"),
    dontWait: $("[data-dont-wait]"),
  };
  let control = { mode: "host", controllers: [] };
  let waitingFor = [];
  let sessionVideo; // undefined until the first state
  let switchedAt = 0;
  let reloaded = true; // the element started loading the session's current video
  let lastBuffering = null;

  const canControl = () => mayControl(control, store.memberId, store.hostId);
  // what the page's other parts read (controls, the video picker) instead of `isHost`
  Object.defineProperty(store, "canControl", { get: canControl, configurable: true });
  Object.defineProperty(store, "controlMode", { get: () => control.mode ?? "host", configurable: true });
  const nameOf = (id) => (id === store.memberId ? "you" : displayName(store.members.get(id) ?? { id }));

  const loadedCurrent = () => reloaded || performance.now() - switchedAt > SWITCH_SETTLE_MS;
  // A stall counts at once when the player ran dry, else once it lasts (stallDelay): a seek within
  // buffered media (the sync controller's corrections included) must not pause the whole group.
  let stalledSince = null;
  let recheck = null;
  const buffering = () => {
    if (loadedCurrent() && video.readyState >= HAVE_FUTURE_DATA) {
      stalledSince = null;
      return false;
    }
    // said so already: it stays so until it can play on (the group's pause that follows must not
    // make it look ready, or the gate would resume and pause again)
    if (lastBuffering) return true;
    stalledSince ??= performance.now();
    const ahead = bufferedAhead(video.buffered, video.currentTime);
    const threshold = loadedCurrent() ? stallDelay({ seeking: video.seeking, paused: video.paused, ahead }) : STALL_MS;
    if (performance.now() - stalledSince >= threshold) return true;
    clearTimeout(recheck);
    recheck = setTimeout(reportIfChanged, threshold - (performance.now() - stalledSince) + 5);
    return false;
  };

  /** The periodic report, plus what the gate needs: the loaded video and a truthful `buffering`
   * (a paused player still loading is not ready). */
  const report = (m) => {
    lastBuffering = buffering();
    return { ...m, buffering: lastBuffering, ...(sessionVideo ? { video: sessionVideo } : {}) };
  };
  function reportIfChanged() {
    if (buffering() !== lastBuffering) playback.sendReport();
  }
  for (const type of ["waiting", "canplay", "canplaythrough", "playing", "loadeddata", "stalled", "emptied"]) {
    video.addEventListener(type, reportIfChanged);
  }
  video.addEventListener("loadstart", () => { reloaded = true; reportIfChanged(); });

  const render = () => {
    document.body.dataset.canControl = String(canControl());
    if (el.modePanel) el.modePanel.hidden = !store.isHost;
    if (el.mode) el.mode.value = control.mode;
    if (el.waiting) {
      el.waiting.hidden = waitingFor.length === 0;
      el.waitingText.textContent = waitingText(waitingFor, nameOf);
      el.playAnyway.hidden = !canControl();
    }
  };

  socket.addEventListener("message", ({ detail: msg }) => {
    const before = JSON.stringify([control, waitingFor]);
    if (msg.type === "init" && msg.control) control = msg.control;
    if (msg.type === "control") control = { mode: msg.mode, controllers: msg.controllers ?? [] };
    const state = msg.type === "init" || msg.type === "stateUpdate" ? msg.state : null;
    if (state) {
      const id = state.video ?? null;
      if (sessionVideo !== undefined && id !== sessionVideo) {
        switchedAt = performance.now();
        reloaded = false;
      }
      sessionVideo = id;
      waitingFor = Array.isArray(state.waitingFor) ? state.waitingFor : [];
      queueMicrotask(reportIfChanged);
      // Act on a pause at once and start at the scheduled instant, not at the next 50 ms tick of
      // the player: the group pauses and resumes within a few ms of each other. (After the
      // page's own handler has taken the state: a task, not a microtask.)
      setTimeout(() => playback.tick(), 0);
      const ahead = state.paused ? 0 : (state.timestamp ?? 0) - playback.clock.serverNow(playback.now());
      // (the controller calls play() its measured play latency early)
      const early = playback.controller?.playLatencyMs ?? 0;
      if (ahead > early && ahead < 5000) setTimeout(() => playback.tick(), ahead - early);
    }
    if (msg.type === "init" && el.dontWait?.checked) socket.send({ type: "waitForMe", wait: false });
    // the controls and the member list (player.js) re-render on the store's change
    if (JSON.stringify([control, waitingFor]) !== before) store.changed("group");
    else if (state) render();
  });
  store.addEventListener("change", render);

  el.mode?.addEventListener("change", () => socket.send({ type: "setControl", mode: el.mode.value }));
  el.playAnyway?.addEventListener("click", () => socket.send({ type: "stateUpdate", state: { paused: false } }));
  el.dontWait?.addEventListener("change", () => socket.send({ type: "waitForMe", wait: !el.dontWait.checked }));

  /** Adds to the member list who may control, and (for the host, in delegated mode) grant buttons. */
  const decorateMembers = (list) => {
    for (const li of list.querySelectorAll("li[data-member-id]")) {
      const id = li.dataset.memberId;
      const controls = mayControl(control, id, store.hostId);
      li.dataset.controls = String(controls);
      if (controls && id !== store.hostId) {
        const badge = document.createElement("span");
        badge.className = "badge small";
        badge.dataset.controlsBadge = "";
        badge.textContent = "controls";
        li.querySelector(".badge")?.after(badge); // beside the role, before the status and buttons
      }
      if (waitingFor.includes(id)) li.dataset.waitedFor = "";
      if (store.isHost && control.mode === "delegated" && id !== store.memberId) {
        const grant = document.createElement("button");
        grant.type = "button";
        grant.className = "secondary";
        grant.dataset.grant = id;
        grant.textContent = controls ? "Revoke control" : "Give control";
        grant.addEventListener("click", () =>
          socket.send({ type: "setControl", controllers: toggledGrant(control.controllers, id) }));
        // with the host's other buttons for this member, before the removal ones
        li.insertBefore(grant, li.querySelector("[data-kick]"));
      }
    }
  };

  render();
  return { report, decorateMembers, canControl };
}
