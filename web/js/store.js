// What the player page knows about its session, kept in one EventTarget that dispatches "change"
// (detail: what changed) so the views re-render from it. Fed by server messages; no DOM here.
// It is the one holder of the authoritative playback state: the sync controller and the controls
// read `playback` from here, nobody keeps a copy.

import { isNewer } from "./sync.js";

/** Why the session cannot be watched (null while it can). */
export const GONE = Object.freeze({
  MISSING: "missing", ENDED: "ended", EXPIRED: "expired",
  // close 4003: the host removed this tab, banned it, or locked the room before it got in
  KICKED: "kicked", BANNED: "banned", LOCKED: "locked",
});

/** Close codes that mean the session is gone for good, and how (socket.js stops reconnecting). */
export function goneForClose(code) {
  if (code === 4001) return GONE.MISSING; // unknown (or malformed) session key
  if (code === 4004) return GONE.ENDED; // deleted or expired while connected
  return null;
}

/** What the page says about a session that cannot be watched: {title, detail}. */
export function goneMessage(why) {
  switch (why) {
    case GONE.MISSING:
      return {
        title: "This session does not exist",
        detail: "The link may be mistyped, or the session ended and was removed.",
      };
    case GONE.EXPIRED:
      return { title: "This session has ended", detail: "It expired after a while with nobody watching." };
    case GONE.KICKED:
      return { title: "You were removed from this session", detail: "The host removed you from this session." };
    case GONE.BANNED:
      return { title: "You were banned from this session", detail: "The host removed you for the rest of this session." };
    case GONE.LOCKED:
      return { title: "This session is locked", detail: "The host is not letting anyone new in right now." };
    default:
      return { title: "This session has ended", detail: "It was closed; nothing more will play here." };
  }
}

export class SessionStore extends EventTarget {
  constructor(sessionKey) {
    super();
    this.sessionKey = sessionKey;
    this.memberId = null;
    this.joined = false; // an init has arrived (a Go server's init carries no memberId)
    this.hostId = null;
    this.isHost = false;
    this.members = new Map();
    this.playback = null; // the latest authoritative playback state (version-ordered)
    this.media = new Map(); // video id → its packaging status, as mediaStatus last said
    this.connection = "connecting";
    this.gone = null; // a GONE value once the session cannot be watched any more
    this.error = null;
    this.notice = null;
    this.locked = false; // the host keeps new members out (init's `locked`, then `locked` messages)
  }

  /**
   * Take a playback state from init/stateUpdate if it is newer than the one held; returns whether
   * it was taken (echoes and stale copies are not). Fires change "playback".
   */
  offerPlayback(state) {
    if (!state || !isNewer(state, this.playback)) return false;
    this.playback = { playbackRate: 1, ...state };
    this.changed("playback");
    return true;
  }

  /** A new connection (maybe a new server, numbering versions afresh) is the authority now. */
  resetPlayback() {
    this.playback = null;
  }

  changed(what) {
    this.dispatchEvent(new CustomEvent("change", { detail: what }));
  }

  get host() {
    return this.hostId ? this.members.get(this.hostId) ?? null : null;
  }

  get me() {
    return this.memberId ? this.members.get(this.memberId) ?? null : null;
  }

  /** Apply one server message to the store (changes are announced as "change" events). */
  handle(msg) {
    switch (msg?.type) {
      case "init": {
        this.resetPlayback();
        this.joined = true;
        this.isHost = Boolean(msg.isHost);
        if (msg.memberId) this.memberId = msg.memberId;
        if ("hostId" in msg) this.hostId = msg.hostId;
        else if (this.isHost) this.hostId = this.memberId;
        if (Array.isArray(msg.members)) {
          this.members = new Map(msg.members.map((m) => [m.id, m]));
        }
        this.error = null;
        this.locked = Boolean(msg.locked);
        this.offerPlayback(stamped(msg));
        this.changed("init"); // last: views re-rendering on init see the whole of it
        return;
      }
      case "stateUpdate":
      case "state_update":
        this.offerPlayback(stamped(msg));
        return;
      case "mediaStatus":
        if (typeof msg.video === "string" && msg.status && typeof msg.status === "object") {
          this.media.set(msg.video, msg.status);
          this.changed("media");
        }
        return;
      case "memberJoined":
      case "memberUpdated":
        if (msg.member?.id) {
          this.members.set(msg.member.id, msg.member);
          this.changed("members");
        }
        return;
      case "memberLeft":
        this.members.delete(msg.memberId);
        this.changed("members");
        return;
      case "presence": {
        // The batched form (asked for with presence=batch): the net change per member since the
        // last one. `joined` may name a member already known, `left` one never seen.
        for (const m of Array.isArray(msg.joined) ? msg.joined : []) if (m?.id) this.members.set(m.id, m);
        for (const m of Array.isArray(msg.updated) ? msg.updated : []) if (m?.id) this.members.set(m.id, m);
        for (const id of Array.isArray(msg.left) ? msg.left : []) this.members.delete(id);
        this.changed("members");
        return;
      }
      case "hostChanged":
        this.setHost(msg.hostId ?? null);
        return;
      case "error":
        this.notice = msg.message || msg.code || "The server rejected that command.";
        this.changed("notice");
        return;
      case "locked":
        this.locked = Boolean(msg.locked);
        this.changed("locked");
        return;
      case "ended":
        this.end(msg.reason === "expired" ? GONE.EXPIRED : GONE.ENDED);
        return;
      default:
        // unknown types are ignored, as old clients ignore our extensions
    }
  }

  /** The session cannot be watched any more (unknown key, ended or expired): nothing is live. */
  end(why) {
    if (this.gone) return;
    this.gone = why;
    this.members = new Map();
    this.hostId = null;
    this.isHost = false;
    this.changed("gone");
  }

  setHost(hostId) {
    this.hostId = hostId;
    this.isHost = hostId !== null && hostId === this.memberId;
    for (const [id, m] of this.members) {
      const role = id === hostId ? "host" : "participant";
      if (m.role !== role) this.members.set(id, { ...m, role });
    }
    this.changed("host");
  }

  setConnection(status) {
    this.connection = status;
    this.changed("connection");
  }

  /** Packaging status of a video as last pushed by the server, or null. */
  mediaStatus(id) {
    return this.media.get(id) ?? null;
  }

  fail(message) {
    this.error = message;
    this.changed("error");
  }
}

/** The state of an init/stateUpdate, timed by the message when the state itself is not (Go). */
function stamped(msg) {
  return msg.state ? { ...msg.state, timestamp: msg.state.timestamp ?? msg.timestamp } : null;
}
