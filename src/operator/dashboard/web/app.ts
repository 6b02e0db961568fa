/**
 * The dashboard page: its views (Fleet, Device, Models, Model, Rollouts, Rollout, Push) over the server's JSON, re-read when the live stream
 * says something they show has changed. Everything is built with textContent (no HTML from data), and requests that
 * change something carry the dashboard's header so the server can tell them from another site's forms.
 */
import type { Chart } from 'chart.js';
import { candidateLines, fmtDrop, latencyChart, tuneChart, type ChartCandidate, type LatencyPoint } from './charts.js';

type Json = Record<string, any>;

const main = document.getElementById('main') as HTMLElement;
const notice = document.getElementById('notice') as HTMLElement;
const liveBadge = document.getElementById('live') as HTMLElement;
let charts: Chart<any, any>[] = [];
/** Charts to draw once the new view is in the document (a detached canvas has no size). */
let afterRender: Array<() => void> = [];
let summary: Json | null = null;
const resyncState = new Map<string, { state: string; message: string }>();
const jobStages = new Map<string, { stage: string; progress: number | null }>();

type Child = Node | string | number | null | undefined | false;

/** Create an element: attributes (on* are listeners), then children (strings become text). */
function h(tag: string, attrs: Record<string, unknown> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(2)} GiB`;
  if (v >= 1024 * 1024) return `${(v / (1024 * 1024)).toFixed(2)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${v} B`;
}

function fmtNum(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? '-' : v.toFixed(digits);
}

function ago(iso: string | null | undefined): string {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function when(iso: string | null | undefined): HTMLElement {
  return h('time', { datetime: iso ?? '', title: iso ?? '' }, ago(iso));
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '-';
}

function showNotice(message: string | null, kind: 'error' | 'info' = 'error'): void {
  notice.hidden = message === null;
  notice.className = `notice ${kind}`;
  notice.textContent = message ?? '';
}

async function api(path: string, init: RequestInit = {}): Promise<Json> {
  const res = await fetch(path, { ...init, credentials: 'same-origin', headers: { ...(init.headers ?? {}), 'x-edgetune-dashboard': '1', accept: 'application/json' } });
  let body: Json = {};
  try {
    body = (await res.json()) as Json;
  } catch {
    body = {};
  }
  if (!res.ok) {
    const e = body.error as { code?: string; message?: string } | undefined;
    throw new Error(`${e?.message ?? `HTTP ${res.status}`}${e?.code ? ` [${e.code}]` : ''}`);
  }
  return body;
}

function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge ${state}`, 'data-state': state }, state);
}

function table(headers: string[], rows: HTMLElement[], attrs: Record<string, unknown> = {}): HTMLElement {
  return h('div', { class: 'scroll' }, h('table', attrs, h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))), h('tbody', {}, ...rows)));
}

function td(label: string, ...children: Child[]): HTMLElement {
  return h('td', { 'data-label': label }, ...children);
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// ---- Fleet ----

async function renderFleet(): Promise<HTMLElement> {
  const fleet = await api('/api/fleet');
  const devices = fleet.devices as Json[];
  const rows = devices.map((d) => {
    const live = d.live as Json | null;
    const rs = resyncState.get(d.deviceId as string);
    const resync =
      (d.missingReports as number) > 0 || rs
        ? h(
            'span',
            {},
            `${d.missingReports} `,
            h('button', { type: 'button', class: 'small', disabled: rs?.state === 'running', 'data-resync': d.deviceId, onclick: () => void startResync(d.deviceId as string) }, rs?.state === 'running' ? 'resyncing…' : 'resync'),
            rs ? h('div', { class: `muted ${rs.state}` }, rs.message) : null,
          )
        : '0';
    return h(
      'tr',
      { 'data-device': d.deviceId },
      td('device', h('a', { href: `#/device/${d.deviceId}` }, d.deviceId)),
      td('state', stateBadge(d.state), d.since ? h('div', { class: 'muted' }, `since ${ago(d.since)}`) : null),
      td('board / profile', `${d.board ?? '-'} / ${d.profile ?? '-'}`, d.emulated ? h('div', { class: 'warn' }, 'emulated') : null),
      td('groups', (d.groups as string[]).join(', ') || '-'),
      td('version', d.version ?? '-'),
      td('last heartbeat', when(d.lastHeartbeatAt), d.heartbeatOverdueSeconds !== null ? h('div', { class: 'warn', 'data-overdue': d.deviceId }, `overdue ${d.heartbeatOverdueSeconds} s: hung, or cut off without its Will`) : null),
      td('live model', live ? `${live.sourceName ?? short(live.sourceSha256)} · ${live.method ?? '?'} · ${short(live.variantId)}` : '-'),
      td('missing reports', resync),
    );
  });
  return h(
    'div',
    {},
    h('h1', {}, 'Fleet'),
    h('p', { class: 'muted', id: 'fleet-counts' }, `${devices.length} device(s): ${fleet.online} online, ${fleet.offline} offline; ${fleet.missingReports} report(s) missing from this store`),
    devices.length === 0
      ? h('p', {}, 'No device has been seen on this broker yet. Devices appear here as soon as their agent connects.')
      : table(['device', 'state', 'board / profile', 'groups', 'version', 'last heartbeat', 'live model', 'missing reports'], rows, { id: 'fleet' }),
  );
}

async function startResync(deviceId: string): Promise<void> {
  try {
    await api(`/api/devices/${encodeURIComponent(deviceId)}/resync`, { method: 'POST' });
    resyncState.set(deviceId, { state: 'running', message: 'asking the device to re-send…' });
  } catch (error) {
    showNotice(`resync ${deviceId}: ${(error as Error).message}`);
  }
  schedule();
}

// ---- Device ----

function kv(pairs: Array<[string, Child]>): HTMLElement {
  return h('dl', { class: 'kv' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '-')]));
}

async function renderDevice(id: string): Promise<HTMLElement> {
  const v = await api(`/api/devices/${encodeURIComponent(id)}`);
  const d = v.device as Json;
  const hw = (v.hw ?? {}) as Json;
  const cpu = (hw.cpu ?? {}) as Json;
  const caches = (hw.caches ?? {}) as Json;
  const caps = Object.entries((hw.capabilities ?? {}) as Record<string, unknown>).filter(([, on]) => on === true).map(([k]) => k);
  const hb = (v.heartbeat ?? {}) as Json;
  const reports = v.reports as Json[];
  const jobs = v.jobs as Json[];
  const hwCard = section(
    'Hardware',
    v.hw
      ? kv([
          ['board', hw.board],
          ['profile', d.profile],
          ['cpu', `${cpu.model ?? '-'} · ${cpu.cores ?? '?'} cores · ${cpu.arch ?? '?'}`],
          ['memory', fmtBytes(hw.memoryBytes)],
          ['caches', `L1d ${fmtBytes(caches.l1d)} · L2 ${fmtBytes(caches.l2)} · L3 ${fmtBytes(caches.l3)}`],
          ['capabilities', caps.join(', ') || 'none'],
          ['accelerators', Array.isArray(hw.accelerators) && hw.accelerators.length > 0 ? hw.accelerators.map((a: unknown) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ') : 'none'],
          ['emulated', hw.emulated === true ? 'yes: timings are not the device’s' : 'no'],
        ])
      : h('p', { class: 'muted' }, 'no hello received from this device'),
  );
  const hbCard = section(
    'Status',
    kv([
      ['state', stateBadge(d.state)],
      ['version', d.version],
      ['groups', (d.groups as string[]).join(', ') || '-'],
      ['last heartbeat', when(d.lastHeartbeatAt)],
      ['load (1 min)', fmtNum(hb.load1, 2)],
      ['memory free', `${fmtBytes(hb.memoryFreeBytes)} of ${fmtBytes(hb.memoryTotalBytes)}`],
      ['temperature', hb.temperatureC === null || hb.temperatureC === undefined ? '-' : `${fmtNum(hb.temperatureC, 1)} °C`],
      ['throttled', hb.throttled === true ? h('span', { class: 'warn' }, 'yes') : hb.throttled === false ? 'no' : '-'],
      ['queued jobs', hb.queuedJobs],
      ['reports', `${reports.length} stored, ${d.missingReports} missing${d.lastReportSeq !== null ? ` (its last heartbeat: seq ${d.lastReportSeq} committed)` : ''}`],
      ['live model', d.live ? `${d.live.sourceName ?? short(d.live.sourceSha256)} · ${d.live.method ?? '?'} · ${short(d.live.variantId)}` : '-'],
    ]),
  );
  const timed = reports.filter((r) => r.latencyMs && typeof r.latencyMs.p50 === 'number');
  const canvas = h('canvas', { 'aria-label': 'p50 latency over time' }) as HTMLCanvasElement;
  const chartCard = section('Latency over time', timed.length > 0 ? h('div', { class: 'chart small' }, canvas) : h('p', { class: 'muted' }, 'no timed reports yet'));
  const reportRows = [...reports].reverse().map((r) => {
    const t = r.thermal as Json | null;
    const energy = r.joulesPerInference === null ? '-' : `${(r.joulesPerInference as number).toExponential(2)} J (${r.energyMethod ?? '?'})`;
    const thermal = t && (t.startC !== null || t.endC !== null) ? `${fmtNum(t.startC, 1)} → ${fmtNum(t.endC, 1)} °C` : t ? 'no sensor' : '-';
    return h(
      'tr',
      { 'data-report': r.reportId },
      td('time', when(r.createdAt)),
      td('action', r.action),
      td('model', r.modelSha256 ? h('a', { href: `#/model/${r.modelSha256}` }, r.modelName ?? short(r.modelSha256)) : '-'),
      td('method', r.method ?? '-'),
      td('state', stateBadge(r.state === 'ok' ? (r.forced ? 'forced' : 'ok') : 'failed'), r.error ? h('div', { class: 'muted' }, `${r.error.message} [${r.error.code}]`) : null),
      td('p50 ms', fmtNum(r.latencyMs?.p50)),
      td('peak RSS', fmtBytes(r.peakRssBytes)),
      td('energy / inference', energy),
      td('thermal', thermal, t?.throttled === true ? h('span', { class: 'warn' }, ' throttled') : null),
    );
  });
  const jobRows = jobs.map((j) => {
    const stage = jobStages.get(j.jobId as string);
    return h(
      'tr',
      { 'data-job': j.jobId },
      td('job', h('code', {}, j.jobId)),
      td('action', j.action),
      td('model', j.modelName ?? '-'),
      td('target', j.target ?? '(another operator)'),
      td('pushed', when(j.pushedAt)),
      td('state', stateBadge(j.state), j.state === 'sent' && stage ? h('div', { class: 'muted' }, `${stage.stage}${stage.progress !== null ? ` ${Math.round(stage.progress * 100)}%` : ''}`) : null),
    );
  });
  const page = h(
    'div',
    {},
    h('h1', {}, `Device ${d.deviceId} `, stateBadge(d.state)),
    h('div', { class: 'grid' }, hwCard, hbCard),
    chartCard,
    section('Reports', reports.length ? table(['time', 'action', 'model', 'method', 'state', 'p50 ms', 'peak RSS', 'energy / inference', 'thermal'], reportRows, { id: 'reports' }) : h('p', { class: 'muted' }, 'no reports stored yet')),
    section('Jobs', jobs.length ? table(['job', 'action', 'model', 'target', 'pushed', 'state'], jobRows, { id: 'jobs' }) : h('p', { class: 'muted' }, 'no jobs')),
  );
  if (timed.length > 0) {
    const points: LatencyPoint[] = timed.map((r) => ({
      t: Date.parse(r.createdAt),
      p50: r.latencyMs.p50,
      label: [`${r.action} ${r.modelName ?? short(r.modelSha256)} ${r.method ?? ''}`.trim(), `p50 ${fmtNum(r.latencyMs.p50)} ms`, `peak RSS ${fmtBytes(r.peakRssBytes)}`, r.createdAt],
    }));
    afterRender.push(() => charts.push(latencyChart(canvas, points)));
  }
  return page;
}

// ---- Models ----

async function renderModels(): Promise<HTMLElement> {
  const { models } = await api('/api/models');
  const rows = (models as Json[]).map((m) =>
    h(
      'tr',
      { 'data-model': m.modelSha256 },
      td('model', h('a', { href: `#/model/${m.modelSha256}` }, m.modelName ?? '(unnamed)')),
      td('sha256', h('code', {}, short(m.modelSha256))),
      td('devices', (m.devices as string[]).join(', ')),
      td('reports', m.reports),
      td('tunes', m.tunes),
      td('last report', when(m.lastReportAt)),
    ),
  );
  return h('div', {}, h('h1', {}, 'Models'), rows.length ? table(['model', 'sha256', 'devices', 'reports', 'tunes', 'last report'], rows, { id: 'models' }) : h('p', {}, 'No reports yet: push a model.'));
}

async function renderModel(sha: string): Promise<HTMLElement> {
  const v = await api(`/api/models/${sha}`);
  const c = v.comparison as Json;
  const rows = (c.rows as Json[]).map((r) =>
    h(
      'tr',
      { 'data-device': r.deviceId, 'data-action': r.action },
      td('device', h('a', { href: `#/device/${r.deviceId}` }, r.deviceId)),
      td('action', r.action),
      td('method', r.method ?? '-'),
      td('size', fmtBytes(r.sizeBytes)),
      td('p50 ms', fmtNum(r.latencyMs?.p50)),
      td('mean ms', fmtNum(r.latencyMs?.mean)),
      td('p99 ms', fmtNum(r.latencyMs?.p99)),
      td('peak RSS', fmtBytes(r.peakRssBytes)),
      td('J/inf', r.joulesPerInference === null ? '-' : `${(r.joulesPerInference as number).toExponential(2)} (${r.energyMethod ?? '?'})`),
      td('top1', fmtNum(r.fidelity?.top1, 4)),
      td('agree', fmtNum(r.fidelity?.agreement, 4)),
      td('state', r.state !== 'ok' ? stateBadge('failed') : r.forced ? stateBadge('forced') : stateBadge('ok'), r.error ? h('div', { class: 'muted' }, `${r.error.code}`) : null),
    ),
  );
  const tunes = (v.tunes as Json[]).map((t) => {
    const canvas = h('canvas', { 'aria-label': `tune front of ${t.deviceId}` }) as HTMLCanvasElement;
    const cands = t.candidates as ChartCandidate[];
    const chosen = cands.find((x) => x.chosen);
    afterRender.push(() => charts.push(tuneChart(canvas, cands)));
    const live = t.rolledBack === true ? 'rolled back' : t.activated === true ? 'live' : 'not activated';
    return h(
      'section',
      { class: 'card tune', 'data-tune-device': t.deviceId },
      h('h3', {}, `${t.deviceId} · ${t.deviceProfile ?? t.board ?? '?'} · objective ${t.objective ?? '?'}`),
      h('p', {}, chosen ? `chosen ${chosen.id} (${live}): ${candidateLines(chosen).slice(1).join(' · ')}` : `no candidate chosen: ${t.chosenReason ?? '?'}`),
      h('div', { class: 'chart' }, canvas),
      h(
        'details',
        {},
        h('summary', {}, `${cands.length} candidates (${cands.filter((x) => x.pareto).length} on the Pareto front)`),
        table(
          ['candidate', 'methods', 'p50 ms', 'size', 'accuracy drop', 'front'],
          cands.map((x) => h('tr', {}, td('candidate', `${x.chosen ? '* ' : ''}${x.id}`), td('methods', x.methods.join(' + ') || '-'), td('p50 ms', fmtNum(x.latencyMs)), td('size', fmtBytes(x.sizeBytes)), td('accuracy drop', fmtDrop(x)), td('front', x.pareto ? 'yes' : ''))),
        ),
      ),
    );
  });
  return h(
    'div',
    {},
    h('h1', {}, `Model ${c.modelName ?? '(unnamed)'} `, h('code', { class: 'muted' }, short(sha))),
    section('Across devices (latest report per device and action)', table(['device', 'action', 'method', 'size', 'p50 ms', 'mean ms', 'p99 ms', 'peak RSS', 'J/inf', 'top1', 'agree', 'state'], rows, { id: 'comparison' })),
    h('h2', {}, 'Tune fronts'),
    tunes.length ? h('div', { class: 'tunes' }, ...tunes) : h('p', { class: 'muted' }, 'no tune of this model yet (push it with the tune action)'),
  );
}

// ---- Rollouts ----

function stageText(r: Json): string {
  return `${r.currentStage} of ${r.stages}${r.currentPercent !== null ? ` (${r.currentPercent}%)` : ''}`;
}

async function renderRollouts(): Promise<HTMLElement> {
  const { rollouts } = await api('/api/rollouts');
  const rows = (rollouts as Json[]).map((r) =>
    h(
      'tr',
      { 'data-rollout': r.rolloutId },
      td('rollout', h('a', { href: `#/rollout/${encodeURIComponent(r.rolloutId as string)}` }, r.rolloutId)),
      td('model', r.modelName, ' ', h('code', { class: 'muted' }, short(r.modelSha256))),
      td('group', r.group),
      td('action', r.action),
      td('state', stateBadge(r.state), r.reason ? h('div', { class: 'muted' }, r.reason) : null),
      td('stage', stageText(r)),
      td('devices', `${r.devices}: ${r.succeeded} succeeded, ${r.failed} failed`),
      td('created', when(r.createdAt)),
    ),
  );
  return h(
    'div',
    {},
    h('h1', {}, 'Rollouts'),
    rows.length
      ? table(['rollout', 'model', 'group', 'action', 'state', 'stage', 'devices', 'created'], rows, { id: 'rollouts' })
      : h('p', {}, 'No rollouts in this store yet: start one with `npx edgetune rollout MODEL --group G --stages 5%,25%,100%`.'),
  );
}

function rollbackText(rb: Json): string {
  const parts = [rb.ok > 0 ? `${rb.ok} rolled back` : '', rb.failed > 0 ? `${rb.failed} failed` : '', rb.pending > 0 ? `${rb.pending} pending` : ''].filter((x) => x !== '');
  return parts.join(', ') || '-';
}

async function renderRollout(id: string): Promise<HTMLElement> {
  const v = await api(`/api/rollouts/${encodeURIComponent(id)}`);
  const c = v.criteria as Json;
  const stages = (v.stages as Json[]).map((st) =>
    h(
      'tr',
      { 'data-stage': st.stage, 'data-stage-state': st.state },
      td('stage', st.stage),
      td('percent', `${st.percent}%`),
      td('state', stateBadge(st.state)),
      td('devices', st.devices),
      td('succeeded', st.succeeded),
      td('failed', st.failed),
      td('pending', st.pending),
      td('decision', st.decision ? stateBadge(st.decision) : '-'),
      td('rolled back', rollbackText(st.rollback as Json)),
      td('reason', st.reason ?? ''),
    ),
  );
  const devices = (v.devices as Json[]).map((d) => {
    const rb = d.rollback as Json | null;
    return h(
      'tr',
      { 'data-rollout-device': d.deviceId, 'data-outcome': d.outcome },
      td('device', h('a', { href: `#/device/${d.deviceId}` }, d.deviceId)),
      td('stage', d.stage),
      td('job', d.jobId ? h('code', {}, d.jobId) : '-'),
      td('outcome', stateBadge(d.outcome)),
      td('reason', d.reason ?? ''),
      td('p50 ms', fmtNum(d.latencyMs)),
      td('live', d.activated ? 'yes' : 'no'),
      td('rollback', rb ? `${rb.state ?? 'pending'}${rb.reason ? `: ${rb.reason}` : ''}` : '-'),
    );
  });
  const skipped = v.skipped as string[];
  return h(
    'div',
    {},
    h('h1', {}, `Rollout ${v.rolloutId} `, stateBadge(v.state)),
    section(
      'Rollout',
      kv([
        ['model', h('span', {}, `${v.modelName} `, h('code', { class: 'muted' }, short(v.model.sha256)))],
        ['group', v.group],
        ['action', v.action],
        ['state', h('span', { id: 'rollout-state' }, v.state, v.reason ? ` — ${v.reason}` : '')],
        ['stage', `${v.currentStage} of ${(v.stages as Json[]).length}`],
        ['criteria', `success ≥ ${c.minSuccess}, abort when failures > ${c.abortFailureRate}${c.maxLatencyMs !== null ? `, p50 ≤ ${c.maxLatencyMs} ms` : ''}`],
        ['stage timeout', `${v.stageTimeoutS} s${v.bakeS > 0 ? `; bake ${v.bakeS} s` : ''}`],
        ['rollback on abort', v.rollbackOnAbort ? 'yes' : 'no'],
        ['skipped (offline at start)', skipped.length ? skipped.join(', ') : 'none'],
        ['created', when(v.createdAt)],
        ['updated', when(v.updatedAt)],
      ]),
    ),
    section('Stages', table(['stage', 'percent', 'state', 'devices', 'succeeded', 'failed', 'pending', 'decision', 'rolled back', 'reason'], stages, { id: 'rollout-stages' })),
    section('Devices', devices.length ? table(['device', 'stage', 'job', 'outcome', 'reason', 'p50 ms', 'live', 'rollback'], devices, { id: 'rollout-devices' }) : h('p', { class: 'muted' }, 'no devices')),
  );
}

// ---- Push ----

let pushForm: HTMLFormElement | null = null;

function pushRunView(run: Json): HTMLElement {
  const p = run.progress as Json | null;
  const devices = (p?.devices ?? []) as Json[];
  const total = devices.reduce((n, d) => n + (d.chunks as number), 0);
  const got = devices.reduce((n, d) => n + (d.complete ? d.chunks : d.received), 0);
  const target = run.target.device ? `device ${run.target.device}` : `group ${run.target.group}`;
  return h(
    'div',
    { class: `card push ${run.state}`, 'data-push': run.pushId, 'data-push-state': run.state },
    h('div', {}, stateBadge(run.state), ` ${run.action} ${run.fileName} (${fmtBytes(run.bytes)})${run.dataset ? ` with dataset ${run.dataset}` : ''} → ${target}${run.signed ? ' · signed' : ' · unsigned'}`),
    h('div', { class: 'muted' }, run.jobId ? `job ${run.jobId} · ` : '', `started ${ago(run.startedAt)}`, run.finishedAt ? ` · finished ${ago(run.finishedAt)}` : ''),
    h('progress', { max: Math.max(total, 1), value: got }),
    h('div', { class: 'muted' }, `${got}/${total} chunks received · ${p?.chunksSent ?? 0} sent · ${devices.filter((d) => d.reported).length}/${devices.length} device(s) reported`),
    h(
      'ul',
      {},
      ...devices.map((d) => {
        const stage = run.jobId ? jobStages.get(run.jobId as string) : undefined;
        const rep = (run.reports as Json[]).find((r) => r.deviceId === d.deviceId);
        return h(
          'li',
          { 'data-push-device': d.deviceId },
          h('a', { href: `#/device/${d.deviceId}` }, d.deviceId),
          `: ${d.received}/${d.chunks} chunks${d.complete ? ', received' : ''}`,
          d.reported ? (rep ? ` — reported ${rep.state}` : ' — reported') : stage && d.complete ? ` — ${stage.stage}` : '',
        );
      }),
    ),
    run.error ? h('div', { class: 'error', role: 'alert' }, `${run.error.message} [${run.error.code}]`) : null,
  );
}

/**
 * The Push form is one element kept across renders. Building the new view moves it out of the page, which drops its
 * focus: a live event while someone types in it would send what they type next nowhere. The focus and the caret are
 * taken just before the move and given back once the new view is in.
 */
let keptFocus: { element: HTMLElement; caret: [number | null, number | null] | null } | null = null;

function rememberFocus(): void {
  const el = document.activeElement;
  keptFocus =
    el instanceof HTMLElement && el !== document.body
      ? { element: el, caret: el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement ? [el.selectionStart, el.selectionEnd] : null }
      : null;
}

function restoreFocus(): void {
  const kept = keptFocus;
  keptFocus = null;
  // only where the focus was lost by the move, never taken from where the user has put it since
  if (!kept || !kept.element.isConnected || (document.activeElement !== null && document.activeElement !== document.body)) return;
  kept.element.focus({ preventScroll: true });
  const [start, end] = kept.caret ?? [null, null];
  if (start === null || end === null) return;
  try {
    (kept.element as HTMLInputElement | HTMLTextAreaElement).setSelectionRange(start, end);
  } catch {
    // inputs without a caret (file, radio) refuse a selection
  }
}

async function renderPush(): Promise<HTMLElement> {
  const [fleet, pushes] = await Promise.all([api('/api/fleet'), api('/api/pushes')]);
  rememberFocus();
  const devices = fleet.devices as Json[];
  const groups = [...new Set(devices.flatMap((d) => d.groups as string[]))].sort();
  const status = h('div', { id: 'push-status', role: 'status' });
  if (!pushForm) {
    pushForm = h(
      'form',
      { id: 'push-form', class: 'card' },
      h('label', {}, 'Model (ONNX) ', h('input', { type: 'file', name: 'model', accept: '.onnx', required: true })),
      h('fieldset', {}, h('legend', {}, 'Target'), h('label', {}, h('input', { type: 'radio', name: 'targetKind', value: 'device', checked: true }), ' device'), h('label', {}, h('input', { type: 'radio', name: 'targetKind', value: 'group' }), ' group'), h('input', { name: 'targetId', list: 'targets', required: true, placeholder: 'device id or group', pattern: '[A-Za-z0-9_-]{1,64}' })),
      h('label', {}, 'Action ', h('select', { name: 'action' }, ...['deploy', 'profile', 'tune', 'compress', 'eval', 'ping'].map((a) => h('option', { value: a }, a)))),
      h('label', {}, 'Dataset ', h('select', { name: 'dataset', id: 'push-dataset' }, h('option', { value: '' }, 'none'))),
      h('label', { class: 'block' }, 'Job options, one KEY=VALUE per line (as push --option)', h('textarea', { name: 'options', rows: 3, placeholder: 'iterations=50\nenergy=auto' })),
      h('button', { type: 'submit' }, 'Push'),
    ) as HTMLFormElement;
    pushForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void submitPush(pushForm as HTMLFormElement);
    });
  }
  // the datasets in --data-dir/datasets/ (the server sends them by name; the page never names a path)
  const select = pushForm.querySelector('#push-dataset') as HTMLSelectElement;
  const names = (pushes.datasets as string[]) ?? [];
  const current = select.value;
  select.replaceChildren(h('option', { value: '' }, 'none'), ...names.map((n) => h('option', { value: n }, n)));
  select.value = names.includes(current) ? current : '';
  const datalist = h('datalist', { id: 'targets' }, ...devices.map((d) => h('option', { value: d.deviceId }, `device (${d.state})`)), ...groups.map((g) => h('option', { value: g }, 'group')));
  const signed = summary?.signed === true;
  return h(
    'div',
    {},
    h('h1', {}, 'Push'),
    h('p', { class: signed ? 'muted' : 'warn' }, signed ? 'Pushes are signed here, on the server, with the operator key given to `npx edgetune dashboard --key`; the key never reaches this page.' : 'No --key was given to `npx edgetune dashboard`: pushes go unsigned, and agents refuse unsigned jobs unless their config allows them.'),
    h('p', { class: 'muted' }, 'Datasets (ONNX test-data layout, for tune accuracy and eval) are the directories in the data dir’s datasets/ folder.'),
    pushForm,
    datalist,
    status,
    h('h2', {}, 'Pushes'),
    h('div', { id: 'pushes' }, ...((pushes.pushes as Json[]).length ? (pushes.pushes as Json[]).map(pushRunView) : [h('p', { class: 'muted' }, 'none from this dashboard yet')])),
  );
}

async function submitPush(form: HTMLFormElement): Promise<void> {
  const status = document.getElementById('push-status');
  const button = form.querySelector('button[type=submit]') as HTMLButtonElement;
  button.disabled = true;
  if (status) status.textContent = 'uploading…';
  try {
    const { push } = await api('/api/push', { method: 'POST', body: new FormData(form) });
    if (status) status.textContent = `push ${push.pushId} started`;
    showNotice(null);
  } catch (error) {
    if (status) status.textContent = '';
    showNotice(`push refused: ${(error as Error).message}`);
  } finally {
    button.disabled = false;
  }
  schedule();
}

// ---- routing and live updates ----

function route(): { page: string; arg: string | null } {
  const m = /^#\/([a-z]+)(?:\/([^/]+))?/.exec(location.hash);
  return { page: m?.[1] ?? 'fleet', arg: m?.[2] ? decodeURIComponent(m[2]) : null };
}

let rendering = false;
let again = false;

async function render(): Promise<void> {
  if (rendering) {
    again = true;
    return;
  }
  rendering = true;
  try {
    const { page, arg } = route();
    for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.nav === page || (a.dataset.nav === 'models' && page === 'model') || (a.dataset.nav === 'fleet' && page === 'device') || (a.dataset.nav === 'rollouts' && page === 'rollout'));
    let view: HTMLElement;
    afterRender = [];
    try {
      view =
        page === 'device' && arg
          ? await renderDevice(arg)
          : page === 'model' && arg
            ? await renderModel(arg)
            : page === 'models'
              ? await renderModels()
              : page === 'rollout' && arg
                ? await renderRollout(arg)
                : page === 'rollouts'
                  ? await renderRollouts()
                  : page === 'push'
                    ? await renderPush()
                    : await renderFleet();
    } catch (error) {
      view = h('div', {}, h('h1', {}, 'Not available'), h('p', { class: 'error', role: 'alert' }, (error as Error).message));
    }
    for (const c of charts) c.destroy();
    charts = [];
    const y = window.scrollY;
    main.replaceChildren(view);
    restoreFocus();
    for (const draw of afterRender.splice(0)) draw();
    window.scrollTo(0, y);
    document.title = `edgetune · ${page}${arg ? ` ${arg}` : ''}`;
  } finally {
    rendering = false;
    if (again) {
      again = false;
      void render();
    }
  }
}

let timer: number | undefined;
/** Re-render soon (events come in bursts: status, hello and heartbeat together). */
function schedule(): void {
  clearTimeout(timer);
  timer = window.setTimeout(() => void render(), 120);
}

function relevant(type: string, e: Json): boolean {
  const { page, arg } = route();
  // a rollout runs in its own process: its progress reaches the store, which the server watches ('store')
  if (type === 'store') return page === 'rollouts' || page === 'rollout';
  if (type === 'push') return page === 'push' || page === 'device';
  if (type === 'job-event') return page === 'device' ? arg === e.deviceId : page === 'push';
  if (page === 'device') return arg === e.deviceId;
  if (page === 'model') return type === 'report' && e.modelSha256 === arg;
  return true;
}

function connectLive(): void {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    liveBadge.textContent = 'live';
    liveBadge.className = 'live on';
  });
  source.addEventListener('error', () => {
    liveBadge.textContent = 'reconnecting…';
    liveBadge.className = 'live off';
    // a refused stream (401: the dashboard restarted with a new token) is not retried by the browser
    if (source.readyState === EventSource.CLOSED) {
      liveBadge.textContent = 'offline';
      showNotice('The live stream was refused or the dashboard stopped. If it was restarted, open the URL it printed (with its new token).');
    }
  });
  source.addEventListener('hello', (m) => {
    summary = JSON.parse((m as MessageEvent).data) as Json;
    brokerState(summary.broker.connected as boolean);
    schedule();
  });
  for (const type of ['device', 'report', 'push', 'resync', 'job-event', 'broker', 'store']) {
    source.addEventListener(type, (m) => {
      const e = JSON.parse((m as MessageEvent).data) as Json;
      if (type === 'resync') resyncState.set(e.deviceId as string, { state: e.state, message: e.message });
      if (type === 'job-event') jobStages.set(e.jobId as string, { stage: e.stage, progress: e.progress });
      if (type === 'broker') brokerState(e.connected as boolean);
      if (relevant(type, e)) schedule();
    });
  }
}

function brokerState(connected: boolean): void {
  liveBadge.dataset.broker = connected ? 'connected' : 'disconnected';
  liveBadge.title = connected ? `broker ${summary?.broker?.url ?? ''} connected` : 'broker disconnected: the page shows the store; updates resume when it is back';
  if (!connected) showNotice('the broker connection is down; reconnecting', 'info');
  else if (notice.classList.contains('info')) showNotice(null);
}

window.addEventListener('hashchange', () => {
  showNotice(null);
  void render();
});
connectLive();
void render();
// relative times age while nothing happens
window.setInterval(() => {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) if (t.dateTime) t.textContent = ago(t.dateTime);
}, 15_000);
