// GO-A scripts/video_player.js, as docs/go-protocol.md §6 describes it: clocks assumed equal, drift
// corrected only above 0.5 s, the host's own play/pause/seeked events sent as stateUpdate.
const sessionKey = new URLSearchParams(window.location.search).get("sessionKey");
const video = document.getElementById("videoPlayer");
const wsBase = API_BASE.replace(/^http/, "ws");
let socket = null;
let isHost = false;
window.goClient = { messages: [], get isHost() { return isHost; } };

function applyState(state) {
  video.playbackRate = state.playbackRate;
  if (state.paused) video.pause();
  else video.play();
}

function sendState() {
  if (!isHost || !socket || socket.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({
    type: "stateUpdate",
    state: {
      paused: video.paused,
      currentTime: video.currentTime,
      playbackRate: video.playbackRate,
      timestamp: Date.now(),
    },
  }));
}

function connect() {
  socket = new WebSocket(`${wsBase}/ws?sessionKey=${sessionKey}`);
  socket.onopen = () => {
    if (!video.src) video.src = `${API_BASE}/api/video`;
  };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    window.goClient.messages.push(data.type);
    if (data.type === "init") {
      isHost = data.isHost;
      document.getElementById("role").textContent = isHost ? "Host" : "Participant";
      video.controls = isHost;
      video.currentTime = data.state.currentTime;
      applyState(data.state);
    } else if (data.type === "stateUpdate") {
      const latency = Date.now() - data.timestamp;
      const target = data.state.currentTime + latency / 2000;
      if (Math.abs(video.currentTime - target) > 0.5) video.currentTime = target;
      applyState(data.state);
    } else if (data.type === "heartbeat") {
      socket.send(JSON.stringify({ type: "heartbeatAck" }));
    }
  };
  socket.onclose = () => setTimeout(connect, 3000);
}

video.addEventListener("play", sendState);
video.addEventListener("pause", sendState);
video.addEventListener("seeked", sendState);
connect();
