// GO-A scripts/homepage.js, as docs/go-protocol.md §6 describes it.
document.getElementById("createSession").addEventListener("click", async () => {
  const response = await fetch(`${API_BASE}/api/sessions`, { method: "POST" });
  const data = await response.json();
  document.getElementById("sessionKey").textContent = data.sessionKey;
});

document.getElementById("joinSession").addEventListener("click", async () => {
  const key = document.getElementById("joinKey").value.trim();
  const response = await fetch(`${API_BASE}/api/sessions/${key}/validate`);
  const data = await response.json();
  if (data.valid) {
    window.location.href = `pages/player.html?sessionKey=${key}`;
  } else {
    document.getElementById("message").textContent = "Invalid session key";
  }
});
