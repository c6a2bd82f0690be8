// The operator console: plain browser code, no build step. It calls the same OSS-compatible
// REST API as any SDK, signing requests (OSS V1, x-oss-date) with the key kept in sessionStorage.
const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const SUB_RESOURCES = new Set(['live', 'status', 'comp', 'vod', 'startTime', 'endTime', 'x-oss-process']);
let info = { buckets: [] };
let refreshTimer;
let hls;

const keyOf = () => JSON.parse(sessionStorage.getItem('livechannel-key') || 'null');
const bucket = () => $('bucket').value;

async function hmacSha1(secret, text) {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(text)));
  return btoa(String.fromCharCode(...sig));
}

function resource(bucketName, objectKey, query) {
  const subs = query.filter(([k]) => SUB_RESOURCES.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return `/${bucketName}/${objectKey}` + (subs.length ? '?' + subs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&') : '');
}

const encodeKey = (k) => k.split('/').map(encodeURIComponent).join('/');
const queryString = (query) => query.map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');

/** A request to the API (path-style), signed in its headers (OSS V1, x-oss-date). */
async function signedFetch(method, objectKey, query, { body, accept } = {}) {
  const key = keyOf();
  const date = new Date().toUTCString();
  const contentType = body ? 'application/xml' : '';
  const toSign = `${method}\n\n${contentType}\n${date}\nx-oss-date:${date}\n${resource(bucket(), objectKey, query)}`;
  const headers = { 'x-oss-date': date, authorization: `OSS ${key.id}:${await hmacSha1(key.secret, toSign)}` };
  if (body) headers['content-type'] = contentType;
  if (accept) headers.accept = accept;
  return fetch(`/${bucket()}/${encodeKey(objectKey)}?${queryString(query)}`, { method, headers, body });
}

/** A signed API call; returns the parsed XML document, or null for empty bodies. */
async function oss(method, objectKey, query, body) {
  const res = await signedFetch(method, objectKey, query, { body });
  const text = await res.text();
  const doc = text ? new DOMParser().parseFromString(text, 'application/xml') : null;
  if (!res.ok) {
    const code = doc?.querySelector('Code')?.textContent ?? res.status;
    throw new Error(`${code}: ${doc?.querySelector('Message')?.textContent ?? res.statusText}`);
  }
  return doc;
}

/** A signed GET answered in JSON (this gateway's health extension). */
async function ossJson(objectKey, query) {
  const res = await signedFetch('GET', objectKey, query, { accept: 'application/json' });
  if (!res.ok) throw new Error(`${res.status}: could not read ${objectKey}`);
  return res.json();
}

/** A channel's health answer from `fromMs` (to `toMs`, default now). */
const healthOf = (name, fromMs, toMs = Date.now() + 1000) =>
  ossJson(name, [['live', ''], ['comp', 'health'], ['from', String(Math.floor(fromMs / 1000))], ['to', String(Math.ceil(toMs / 1000))]]);

/** A URL signed in the query string, e.g. for the preview player or a snapshot in another bucket. */
async function signedUrl(objectKey, query, seconds = 3600, bucketName = bucket()) {
  const key = keyOf();
  const expires = Math.floor(Date.now() / 1000) + seconds;
  const toSign = `GET\n\n\n${expires}\n${resource(bucketName, objectKey, query)}`;
  const auth = [['OSSAccessKeyId', key.id], ['Expires', String(expires)], ['Signature', await hmacSha1(key.secret, toSign)]];
  return `/${bucketName}/${encodeKey(objectKey)}?${queryString([...query, ...auth])}`;
}

/** The OSS push-URL signature: Expires + "\n" + "/bucket/channel". */
async function publishUrl(channel) {
  const key = keyOf();
  const expires = Math.floor(Date.now() / 1000) + 3600;
  const signature = await hmacSha1(key.secret, `${expires}\n/${bucket()}/${channel}`);
  // RTMPS when the gateway has it: the signed key does not cross the internet in clear
  const b = info.buckets.find((x) => x.name === bucket());
  const base = b?.rtmpsBase ?? b?.rtmpBase ?? `rtmp://${location.hostname}`;
  return `${base}/live/${encodeURIComponent(channel)}?${queryString([['OSSAccessKeyId', key.id], ['Expires', String(expires)], ['Signature', signature]])}`;
}

const text = (el, name) => el.querySelector(name)?.textContent ?? '';

function say(message, error = false) {
  $('message').textContent = message;
  $('message').className = error ? 'error' : '';
}

async function refresh() {
  try {
    const list = await oss('GET', '', [['live', ''], ['max-keys', '1000']]);
    const rows = await Promise.all(
      [...list.querySelectorAll('LiveChannel')].map(async (c) => {
        const name = text(c, 'Name');
        const stat = await oss('GET', name, [['live', ''], ['comp', 'stat']]);
        // the verdict of a live channel (a few seconds of samples: a small answer)
        const health = text(stat, 'Status') === 'Live' ? await healthOf(name, Date.now() - 5000).catch(() => undefined) : undefined;
        return { name, stat, health, url: await publishUrl(name) };
      }),
    );
    render(rows);
    say(rows.length ? '' : 'No channels yet: create one below.');
  } catch (err) {
    say(`Could not list channels: ${err.message}`, true);
  }
}

/** Rows persist between refreshes (only their cells change), so buttons stay under the cursor. */
function render(rows) {
  const tbody = $('channels').querySelector('tbody');
  const existing = new Map([...tbody.children].map((tr) => [tr.dataset.channel, tr]));
  const ordered = rows.map((r) => {
    const tr = existing.get(r.name) ?? createRow(r.name);
    updateRow(tr, r);
    return tr;
  });
  const same = ordered.length === tbody.children.length && ordered.every((tr, i) => tbody.children[i] === tr);
  if (!same) tbody.replaceChildren(...ordered);
}

function createRow(name) {
  const tr = document.createElement('tr');
  tr.dataset.channel = name;
  for (let i = 0; i < 8; i++) tr.append(document.createElement('td'));
  tr.children[5].className = 'url';
  tr.children[6].className = 'snapshot';
  tr.children[7].className = 'health';
  tr.children[7].append(document.createElement('span'));
  const actions = document.createElement('td');
  const button = (label, onClick) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', onClick);
    actions.append(b, ' ');
    return b;
  };
  button('Copy URL', () => navigator.clipboard?.writeText(tr.dataset.url).then(() => say(`Publish URL for ${name} copied.`)));
  button('Disable', () => setStatus(name, tr.dataset.status === 'disabled' ? 'enabled' : 'disabled')).className = 'toggle';
  button('Preview', () => preview(name));
  button('History', () => showHistory(name));
  button('Health', () => showHealth(name));
  tr.append(actions);
  return tr;
}

function updateRow(tr, { name, stat, health, url }) {
  const status = text(stat, 'Status').toLowerCase();
  const live = status === 'live';
  const kbps = ((Number(text(stat, 'Video > Bandwidth') || 0) + Number(text(stat, 'Audio > Bandwidth') || 0)) * 8) / 1000;
  const values = [
    name,
    status,
    live ? `${kbps.toFixed(0)} kbit/s` : '',
    live && text(stat, 'Video > Width') ? `${text(stat, 'Video > Width')}x${text(stat, 'Video > Height')}` : '',
    live ? text(stat, 'FrameRate') : '',
    url,
  ];
  values.forEach((v, i) => {
    if (tr.children[i].textContent !== v) tr.children[i].textContent = v;
  });
  tr.children[1].className = `status ${status}`;
  tr.dataset.status = status;
  tr.dataset.url = url;
  tr.querySelector('button.toggle').textContent = status === 'disabled' ? 'Enable' : 'Disable';
  showVerdict(tr.children[7].firstChild, live ? health : undefined);
  updateSnapshot(tr, stat);
}

/**
 * The newest snapshot of a live channel with the Snapshot option (its stat names it); the
 * last one shown stays when the channel goes idle. Only a new key loads a new image.
 */
async function updateSnapshot(tr, stat) {
  const key = text(stat, 'Snapshot > Key');
  if (!key || tr.dataset.snapshot === key) return;
  tr.dataset.snapshot = key;
  const src = await signedUrl(key, [], 3600, text(stat, 'Snapshot > DestBucket'));
  let img = tr.children[6].querySelector('img');
  if (!img) {
    img = document.createElement('img');
    tr.children[6].append(img);
  }
  img.alt = `${tr.dataset.channel} at ${text(stat, 'Snapshot > Time')}`;
  img.title = img.alt;
  img.src = src;
}

let historyChannel;

const localInput = (ms) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
};

async function showHistory(name) {
  historyChannel = name;
  $('history-section').hidden = false;
  $('history-name').textContent = name;
  $('vod-result').replaceChildren();
  try {
    const doc = await oss('GET', name, [['live', ''], ['comp', 'history']]);
    const records = [...doc.querySelectorAll('LiveRecord')].reverse();
    $('history').querySelector('tbody').replaceChildren(
      ...records.map((r) => {
        const tr = document.createElement('tr');
        const start = text(r, 'StartTime');
        const end = text(r, 'EndTime');
        for (const v of [start, end || 'live', text(r, 'RemoteAddr'), text(r, 'EndReason'), text(r, 'NodeId')]) {
          const td = document.createElement('td');
          td.textContent = v;
          tr.append(td);
        }
        // that push's health: its ten-second summaries (its one-second samples while it is live)
        const link = document.createElement('button');
        link.type = 'button';
        link.textContent = 'Health';
        link.addEventListener('click', (e) => {
          e.stopPropagation();
          showHealth(name, { from: Date.parse(start), to: end ? Date.parse(end) + 1000 : undefined });
        });
        const td = document.createElement('td');
        td.append(link);
        tr.append(td);
        tr.addEventListener('click', () => {
          $('vod-start').value = localInput(Date.parse(start));
          $('vod-end').value = localInput(end ? Date.parse(end) + 1000 : Date.now());
        });
        return tr;
      }),
    );
    if (records.length === 0) say(`${name} has no pushes yet.`);
  } catch (err) {
    say(err.message, true);
  }
}

/** A verdict badge (with its reasons as the tooltip) in `el`; nothing for a channel that is not live. */
function showVerdict(el, health) {
  const verdict = health?.verdict ?? '';
  el.textContent = verdict;
  el.className = `badge ${verdict}`;
  el.title = (health?.reasons ?? []).map((r) => r.message).join('\n');
}

let healthTimer;
let healthChannel;

/** The health section for `name`: live (the window select, redrawn every 2 s) or one push's range. */
async function showHealth(name, range) {
  healthChannel = name;
  clearInterval(healthTimer);
  $('health-section').hidden = false;
  $('health-name').textContent = name;
  const draw = async () => {
    if (healthChannel !== name) return;
    const to = range?.to ?? Date.now() + 1000;
    const from = range?.from ?? to - Number($('health-window').value) * 1000;
    try {
      const health = await healthOf(name, from, to);
      if (healthChannel !== name) return;
      drawHealth(health, range ? `${new Date(from).toISOString()} to ${new Date(to).toISOString()}` : '');
    } catch (err) {
      say(err.message, true);
    }
  };
  await draw();
  if (!range) healthTimer = setInterval(draw, 2000);
}

const SVG = 'http://www.w3.org/2000/svg';
const CHART_W = 420;
const CHART_H = 140;

/** One chart: a line over time in an SVG (the newest value and the largest as labels). */
function chart(title, points, unit, color) {
  const box = document.createElement('div');
  box.className = 'chart';
  const h = document.createElement('h3');
  const last = points.at(-1)?.[1];
  h.textContent = `${title}${last === undefined ? '' : `: ${last.toFixed(last < 10 ? 1 : 0)} ${unit}`}`;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${CHART_W} ${CHART_H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  if (points.length > 1) {
    const t0 = points[0][0];
    const span = Math.max(1, points.at(-1)[0] - t0);
    const top = Math.max(...points.map((p) => p[1])) * 1.1 || 1;
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.map(([t, v]) => `${(((t - t0) / span) * CHART_W).toFixed(1)},${(CHART_H - (v / top) * (CHART_H - 14)).toFixed(1)}`).join(' '));
    line.setAttribute('stroke', color);
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', '4');
    label.setAttribute('y', '11');
    label.textContent = `max ${(top / 1.1).toFixed(0)} ${unit}`;
    svg.append(line, label);
  }
  box.dataset.points = String(points.length);
  box.append(h, svg);
  return box;
}

function drawHealth(health, rangeText) {
  showVerdict($('health-verdict'), health.status === 'Live' ? health : undefined);
  $('health-reasons').replaceChildren(...health.reasons.map((r) => Object.assign(document.createElement('li'), { textContent: `${r.verdict}: ${r.message}` })));
  const series = [...health.summaries, ...health.samples];
  const resolution = health.samples.length ? (health.summaries.length ? '10 s, then 1 s' : '1 s') : '10 s';
  $('health-range').textContent = `${health.status}; ${series.length} points (${resolution})${rangeText ? `, ${rangeText}` : ''}`;
  const pts = (f, list = series) => list.map((s) => [s.time, f(s)]);
  $('health-charts').replaceChildren(
    chart('Bitrate', pts((s) => (s.videoBitrate + s.audioBitrate) / 1000), 'kbit/s', '#1f6fb2'),
    chart('Frame rate', pts((s) => s.frameRate), 'fps', '#0a7d2c'),
    // only the seconds a segment was stored in
    chart('Segment cut → stored', pts((s) => s.storedLatencyMs, series.filter((s) => s.segmentMs > 0)), 'ms', '#b26a00'),
  );
}

async function makeVod(event) {
  event.preventDefault();
  const channel = historyChannel;
  const name = $('vod-name').value.trim();
  const startTime = Math.floor(new Date($('vod-start').value).getTime() / 1000);
  const endTime = Math.ceil(new Date($('vod-end').value).getTime() / 1000);
  try {
    await oss('POST', `${channel}/${name}`, [['vod', ''], ['endTime', String(endTime)], ['startTime', String(startTime)]]);
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = `Play ${channel}/${name}`;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      play(`${channel}/${name}`, `${channel}/${name}`);
    });
    $('vod-result').replaceChildren(`Made ${channel}/${name}. `, link);
  } catch (err) {
    $('vod-result').textContent = '';
    say(err.message, true);
  }
}

async function setStatus(name, status) {
  try {
    await oss('PUT', name, [['live', ''], ['status', status]]);
    say(`${name} is now ${status}.`);
    await refresh();
  } catch (err) {
    say(err.message, true);
  }
}

async function preview(name) {
  const channel = await oss('GET', name, [['live', '']]);
  await play(`${name}/${text(channel, 'PlaylistName')}`, name);
}

/** Plays a playlist of the bucket (live or VOD), its segments signed by hls/sign. */
async function play(playlist, name) {
  const url = await signedUrl(playlist, [['x-oss-process', 'hls/sign']]);
  $('preview-section').hidden = false;
  $('preview-name').textContent = name;
  const video = $('preview');
  hls?.destroy();
  if (window.Hls?.isSupported()) {
    hls = new window.Hls();
    const player = hls;
    let retries = 0;
    // A channel is Live as soon as media arrives, but its playlist exists only after the
    // first segment: keep asking for a while instead of giving up on the first 404.
    player.on(window.Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || player !== hls) return;
      if (data.details === window.Hls.ErrorDetails.MANIFEST_LOAD_ERROR && retries++ < 30) {
        say(`Waiting for the first segment of ${name}…`);
        setTimeout(() => player === hls && player.loadSource(url), 1000);
      } else {
        say(`Preview failed: ${data.details}`, true);
      }
    });
    player.on(window.Hls.Events.MANIFEST_PARSED, () => say(''));
    player.loadSource(url);
    player.attachMedia(video);
  } else {
    video.src = url; // Safari plays HLS natively
  }
}

async function create(event) {
  event.preventDefault();
  const name = $('new-channel').value.trim();
  const format = $('new-format').value;
  // this gateway's extensions of Target (fMP4 segments, LL-HLS parts)
  const extensions = format === 'TS' ? '' : `<SegmentFormat>fMP4</SegmentFormat>${format === 'LL' ? '<PartDuration>0.5</PartDuration>' : ''}`;
  const body = `<?xml version="1.0" encoding="UTF-8"?><LiveChannelConfiguration><Status>enabled</Status><Target><Type>HLS</Type>` +
    `<FragDuration>${$('new-frag-duration').value}</FragDuration><FragCount>${$('new-frag-count').value}</FragCount>${extensions}</Target></LiveChannelConfiguration>`;
  try {
    await oss('PUT', name, [['live', '']], body);
    $('new-channel').value = '';
    say(`Created ${name}.`);
    await refresh();
  } catch (err) {
    say(err.message, true);
  }
}

function showSignedIn(signedIn) {
  $('channels-section').hidden = !signedIn;
  $('signin-help').hidden = signedIn;
  $('logout').hidden = !signedIn;
  clearInterval(refreshTimer);
  if (signedIn) {
    refresh();
    refreshTimer = setInterval(refresh, 2000);
  }
}

async function start() {
  info = await (await fetch('/console/info.json')).json();
  $('bucket').replaceChildren(...info.buckets.map((b) => new Option(`${b.name} (${b.acl})`, b.name, false, b.name === info.defaultBucket)));
  if (info.demoCredentialsFile) {
    $('key-hint').textContent = `This gateway runs without configured keys: use the demo key it printed at start (AccessKeyId and AccessKeySecret), also kept in ${info.demoCredentialsFile} on the gateway's machine.`;
  }
  const saved = keyOf();
  if (saved) {
    $('key-id').value = saved.id;
    if (saved.bucket) $('bucket').value = saved.bucket;
  }
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('livechannel-key', JSON.stringify({ id: $('key-id').value.trim(), secret: $('key-secret').value, bucket: bucket() }));
    $('key-secret').value = '';
    showSignedIn(true);
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem('livechannel-key');
    showSignedIn(false);
  });
  $('bucket').addEventListener('change', () => keyOf() && refresh());
  $('create').addEventListener('submit', create);
  $('vod').addEventListener('submit', makeVod);
  $('close-history').addEventListener('click', () => {
    $('history-section').hidden = true;
  });
  $('close-health').addEventListener('click', () => {
    healthChannel = undefined;
    clearInterval(healthTimer);
    $('health-section').hidden = true;
  });
  $('health-window').addEventListener('change', () => healthChannel && showHealth(healthChannel));
  $('close-preview').addEventListener('click', () => {
    hls?.destroy();
    hls = undefined;
    $('preview-section').hidden = true;
  });
  if (!crypto.subtle) say('This page needs a secure context (https, or http on localhost) to sign requests.', true);
  showSignedIn(Boolean(saved));
}

start();
