// The member list: who is watching, their role and how their playback is doing. Names are typed by
// users, so everything goes in through textContent.

function statusText(m) {
  const parts = [];
  if (m.buffering) parts.push("buffering");
  if (Number.isFinite(m.drift)) parts.push(`drift ${m.drift >= 0 ? "+" : ""}${Math.round(m.drift)} ms`);
  if (Number.isFinite(m.rtt)) parts.push(`RTT ${Math.round(m.rtt)} ms`);
  return parts.join(" · ") || "joining…";
}

export function displayName(m) {
  return m?.name ? m.name : m?.id ? `guest ${String(m.id).slice(0, 4)}` : "someone";
}

/**
 * Keep `list` and `countEl` rendered from the store's members on every change; the whole panel
 * (`panel`) is hidden once the session is gone (nobody is watching, nobody can be made host).
 */
export function bindMembers({ panel, list, countEl }, store, onMakeHost, actions = () => []) {
  const render = () => {
    panel.hidden = Boolean(store.gone);
    renderMembers(list, countEl, store, onMakeHost, actions);
  };
  store.addEventListener("change", render);
  render();
}

/**
 * Render `store.members` into `list`. `onMakeHost(id)` is offered next to every other member when
 * this page is the host.
 */
export function renderMembers(list, countEl, store, onMakeHost, actions = () => []) {
  const members = [...store.members.values()].sort((a, b) =>
    (a.role === "host" ? -1 : 0) - (b.role === "host" ? -1 : 0) || (a.joinedAt ?? 0) - (b.joinedAt ?? 0));
  const items = members.map((m) => {
    const li = document.createElement("li");
    li.dataset.memberId = m.id;
    li.dataset.memberRole = m.id === store.hostId ? "host" : "participant";
    if (m.buffering) li.dataset.buffering = "";
    const name = document.createElement("span");
    name.className = "member-name";
    name.textContent = displayName(m) + (m.id === store.memberId ? " (you)" : "");
    const role = document.createElement("span");
    role.className = "badge small";
    role.textContent = m.id === store.hostId ? "host" : "participant";
    const status = document.createElement("span");
    status.className = "member-status";
    status.dataset.memberStatus = "";
    status.textContent = statusText(m);
    li.append(name, role, status);
    if (store.isHost && m.id !== store.memberId) {
      const give = document.createElement("button");
      give.type = "button";
      give.dataset.makeHost = m.id;
      give.textContent = "Make host";
      give.addEventListener("click", () => onMakeHost(m.id));
      li.append(give);
    }
    li.append(...actions(m)); // the host's moderation buttons (moderation.js)
    return li;
  });
  list.replaceChildren(...items);
  countEl.textContent = `(${members.length})`;
}
