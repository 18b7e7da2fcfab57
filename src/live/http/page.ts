// The page at `/`: a stand-in video with likes floating over it, comments and the viewer count.
// Vanilla JS + EventSource. It publishes with a viewer token from the URL fragment (#viewer=…; fragments never
// reach a server or its logs): scoped to topics and types, short-lived and rate-limited, never the publish secret.

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>colony live</title>
<style>
  :root { color-scheme: dark; font-family: system-ui, sans-serif; }
  body { margin: 0; background: #0d1117; color: #e6edf3; display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 1fr); gap: 16px; padding: 16px; min-height: 100vh; box-sizing: border-box; }
  #stage { position: relative; aspect-ratio: 16 / 9; border-radius: 12px; overflow: hidden; background: #000; }
  #video { width: 100%; height: 100%; display: block; }
  #badge { position: absolute; top: 12px; left: 12px; background: #d1242f; padding: 2px 8px; border-radius: 4px; font-weight: 700; font-size: 13px; }
  #viewers { position: absolute; top: 12px; left: 70px; background: rgba(0,0,0,.6); padding: 2px 8px; border-radius: 4px; font-size: 13px; }
  #hearts { position: absolute; inset: 0; pointer-events: none; overflow: hidden; }
  .heart { position: absolute; bottom: 10px; font-size: 28px; animation: rise 2.4s ease-out forwards; }
  @keyframes rise { from { transform: translateY(0) scale(.6); opacity: 1; } to { transform: translateY(-320px) scale(1.2); opacity: 0; } }
  #controls { display: flex; gap: 12px; align-items: center; margin-top: 12px; }
  #like { font-size: 20px; padding: 8px 18px; border-radius: 999px; border: 0; background: #d1242f; color: #fff; cursor: pointer; }
  #side { display: flex; flex-direction: column; min-height: 0; }
  #comments { list-style: none; padding: 0; margin: 0; flex: 1; overflow-y: auto; max-height: 70vh; }
  #comments li { padding: 6px 0; border-bottom: 1px solid #30363d; word-break: break-word; }
  #comments b { color: #7ee787; margin-right: 6px; }
  form { display: flex; gap: 6px; margin-top: 8px; }
  input { flex: 1; padding: 6px; background: #161b22; color: inherit; border: 1px solid #30363d; border-radius: 6px; }
  #status { color: #8b949e; font-size: 13px; }
</style>
</head>
<body data-connected="0">
<main>
  <div id="stage">
    <canvas id="video" width="640" height="360" aria-label="stand-in video"></canvas>
    <span id="badge">LIVE</span><span id="viewers"><span id="viewer-count">0</span> watching</span>
    <div id="hearts"></div>
  </div>
  <div id="controls">
    <button id="like" type="button" aria-label="like">&#10084; Like</button>
    <span><span id="likes-total">0</span> likes</span>
    <span id="status">connecting…</span>
  </div>
</main>
<aside id="side">
  <h2 style="margin:0 0 8px">Comments</h2>
  <ul id="comments"></ul>
  <form id="comment-form"><input id="comment-text" maxlength="280" placeholder="Say something" autocomplete="off"><button type="submit">Send</button></form>
</aside>
<script>
(() => {
  const params = new URLSearchParams(location.search)
  const topic = params.get('topic') || 'demo'
  // Out of the address bar (and of screenshots and shared links) once read; kept for this tab's reloads.
  const viewer = new URLSearchParams(location.hash.slice(1)).get('viewer') || sessionStorage.getItem('colony-viewer:' + topic) || ''
  if (viewer) sessionStorage.setItem('colony-viewer:' + topic, viewer)
  if (location.hash) history.replaceState(null, '', location.pathname + location.search)
  const user = params.get('name') || 'viewer-' + Math.random().toString(36).slice(2, 6)
  const $ = (id) => document.getElementById(id)
  const base = '/v1/topics/' + encodeURIComponent(topic)
  let likes = 0

  // Stand-in video: a moving gradient and a clock, so the page looks alive without any media.
  const ctx = $('video').getContext('2d')
  function frame(t) {
    const g = ctx.createLinearGradient(0, 0, 640, 360)
    const h = (t / 40) % 360
    g.addColorStop(0, 'hsl(' + h + ',60%,30%)'); g.addColorStop(1, 'hsl(' + ((h + 120) % 360) + ',60%,20%)')
    ctx.fillStyle = g; ctx.fillRect(0, 0, 640, 360)
    ctx.fillStyle = 'rgba(255,255,255,.85)'; ctx.font = 'bold 28px system-ui'
    ctx.fillText('#' + topic + '  ' + new Date().toLocaleTimeString(), 24, 330)
    requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)

  function floatHearts(n) {
    for (let i = 0; i < Math.min(n, 15); i++) {
      const el = document.createElement('span')
      el.className = 'heart'; el.textContent = '\\u2764'
      el.style.left = (10 + Math.random() * 80) + '%'
      el.style.animationDelay = (i * 80) + 'ms'
      el.style.color = 'hsl(' + Math.floor(330 + Math.random() * 40) + ',90%,60%)'
      $('hearts').appendChild(el)
      setTimeout(() => el.remove(), 2600 + i * 80)
    }
  }

  function addComment(c) {
    const li = document.createElement('li')
    const b = document.createElement('b'); b.textContent = String(c.user || 'anon')
    li.appendChild(b); li.appendChild(document.createTextNode(String(c.text || '')))
    $('comments').appendChild(li)
    while ($('comments').children.length > 200) $('comments').firstChild.remove()
    $('comments').scrollTop = $('comments').scrollHeight
  }

  const es = new EventSource(base + '/events')
  es.onopen = () => { document.body.dataset.connected = '1'; $('status').textContent = 'live' }
  es.onerror = () => { document.body.dataset.connected = '0'; $('status').textContent = 'reconnecting…' }
  es.addEventListener('like', (e) => {
    const n = Number(JSON.parse(e.data).likes) || 1
    likes += n; $('likes-total').textContent = String(likes); floatHearts(n)
  })
  es.addEventListener('comment', (e) => addComment(JSON.parse(e.data)))
  es.addEventListener('reset', () => { $('status').textContent = 'resynced (missed events were too old)' })
  es.addEventListener('reconnect', () => { $('status').textContent = 'server moving you to another node…' })

  const REFUSED = {
    LIVE_TOKEN_EXPIRED: 'viewer token expired: reload the page with a new one',
    LIVE_RATE_LIMITED: 'slow down a little',
    LIVE_FORBIDDEN_TYPE: 'this viewer token may not send that',
    LIVE_FORBIDDEN_TOPIC: 'this viewer token is for another stream',
  }
  async function publish(type, data) {
    if (!viewer) { $('status').textContent = 'read-only: open this page with #viewer=<viewer token> (colony live token)'; return }
    const res = await fetch(base + '/events', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + viewer }, body: JSON.stringify({ type, data }) })
    if (res.ok) return
    let code = ''
    try { code = String((await res.json()).error.code) } catch {}
    $('status').textContent = REFUSED[code] || ('publish refused: ' + res.status + ' ' + code)
  }
  $('like').addEventListener('click', () => { void publish('like', {}) })
  $('comment-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const text = $('comment-text').value.trim()
    if (text) { void publish('comment', { user, text }); $('comment-text').value = '' }
  })

  async function pollViewers() {
    try { const r = await fetch(base); if (r.ok) $('viewer-count').textContent = String((await r.json()).viewers) } catch {}
    setTimeout(pollViewers, 2000)
  }
  void pollViewers()
})()
</script>
</body>
</html>
`

export function renderLivePage(): string {
  return PAGE
}
