// What the player page knows about its session, kept in one EventTarget that dispatches "change"
// (detail: what changed) so the views re-render from it. Fed by server messages; no DOM here.

export class SessionStore extends EventTarget {
  constructor(sessionKey) {
    super();
    this.sessionKey = sessionKey;
    this.memberId = null;
    this.hostId = null;
    this.isHost = false;
    this.members = new Map();
    this.state = null; // the latest authoritative playback state
    this.connection = "connecting";
    this.error = null;
    this.notice = null;
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

  /** Apply one server message; returns a playback state to offer the sync controller, or null. */
  handle(msg) {
    switch (msg?.type) {
      case "init": {
        this.isHost = Boolean(msg.isHost);
        if (msg.memberId) this.memberId = msg.memberId;
        if ("hostId" in msg) this.hostId = msg.hostId;
        else if (this.isHost) this.hostId = this.memberId;
        if (Array.isArray(msg.members)) {
          this.members = new Map(msg.members.map((m) => [m.id, m]));
        }
        this.error = null;
        this.changed("init");
        return msg.state ? { ...msg.state, timestamp: msg.state.timestamp ?? msg.timestamp } : null;
      }
      case "stateUpdate":
      case "state_update":
        return msg.state ? { ...msg.state, timestamp: msg.state.timestamp ?? msg.timestamp } : null;
      case "memberJoined":
      case "memberUpdated":
        if (msg.member?.id) {
          this.members.set(msg.member.id, msg.member);
          this.changed("members");
        }
        return null;
      case "memberLeft":
        this.members.delete(msg.memberId);
        this.changed("members");
        return null;
      case "hostChanged":
        this.setHost(msg.hostId ?? null);
        return null;
      case "error":
        this.notice = msg.message || msg.code || "The server rejected that command.";
        this.changed("notice");
        return null;
      case "ended":
        this.error = msg.reason === "expired" ? "This session has expired." : "This session has ended.";
        this.changed("error");
        return null;
      default:
        return null; // unknown types are ignored, as old clients ignore our extensions
    }
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

  fail(message) {
    this.error = message;
    this.changed("error");
  }
}
