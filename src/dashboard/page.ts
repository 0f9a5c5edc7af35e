import {formatBytes} from '../base/units.js'
import {formatDuration, type RunView} from '../run/progress.js'
import type {RunStatus} from '../run/status.js'

const esc = (s: string) => s.replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)

const count = (n: number) => n.toLocaleString('en-US')
const perSecond = (n: number) => (n < 10 ? n.toFixed(1) : String(Math.round(n)))
const running = (r: RunStatus) => r.state === 'running' || r.state === 'enqueuing'

/** Progress: the share once the walk is done; while it runs, only what it found so far (no share of a growing total). */
function progressCell(r: RunStatus, v: RunView): string {
  const handled = r.filesDone + r.filesSkipped + r.filesFailed
  if (v.percent === undefined) return `<td class="progress walking">walk still running · ${count(r.filesFound)} found so far</td>`
  return `<td class="progress num" data-percent="${v.percent}">${v.percent}% <small>(${count(handled)} of ${count(r.filesFound)})</small></td>`
}

/** Running: the current rate (over the last ~10 s); finished: the average while it ran. */
function rateCell(r: RunStatus, v: RunView): string {
  if (!v.rate) {
    const why = running(r) && v.elapsedSeconds !== undefined ? 'measuring…' : '—'
    return `<td class="rate num" title="${running(r) ? 'no job has started or the rate is not measured yet' : 'no job ever started'}">${why}</td>`
  }
  const {filesPerSecond: f, bytesPerSecond: b} = v.rate
  const kind = v.rateKind === 'average' ? 'average while it ran' : 'current, over the last ~10 s'
  return `<td class="rate num" data-kind="${v.rateKind}" data-files-per-second="${f}" data-bytes-per-second="${b}" title="${kind}">` +
    `${v.rateKind === 'average' ? 'avg ' : ''}${perSecond(f)} files/s · ${esc(formatBytes(Math.round(b)))}/s</td>`
}

function elapsedCell(r: RunStatus, v: RunView): string {
  if (v.elapsedSeconds === undefined) return `<td class="elapsed num" title="from the first job started">${running(r) ? 'not started' : '—'}</td>`
  return `<td class="elapsed num" data-seconds="${v.elapsedSeconds}" title="from the first job started">${formatDuration(v.elapsedSeconds)}</td>`
}

function etaCell(r: RunStatus, v: RunView): string {
  if (v.etaSeconds !== undefined) return `<td class="eta num" data-seconds="${v.etaSeconds}">${formatDuration(v.etaSeconds)}</td>`
  const text = !running(r) ? '' : v.percent === undefined ? 'after the walk' : v.rate ? '—' : 'measuring…'
  return `<td class="eta num"${text === '—' ? ' title="nothing moved in the last ~10 s"' : ''}>${text}</td>`
}

/** The runs page: plain server-rendered HTML that reloads itself every 2 s. `views`: each run's runView. */
export function renderRunsPage(runs: RunStatus[], counts: Record<string, number>, opts: {readOnly: boolean; workers?: number; views?: Map<string, RunView>}): string {
  const rows = runs.map(r => {
    const v = opts.views?.get(r.runId) ?? {}
    return `
      <tr data-run="${esc(r.runId)}" class="state-${r.state}">
        <td class="run-id"><code>${esc(r.runId)}</code></td>
        <td class="state">${r.state}</td>
        ${progressCell(r, v)}
        <td class="files-done num">${r.filesDone}</td>
        <td class="files-skipped num">${r.filesSkipped}</td>
        <td class="files-failed num">${r.filesFailed}</td>
        <td class="jobs-pending num">${r.jobsPending}</td>
        <td class="bytes num">${esc(formatBytes(r.bytes))}</td>
        ${rateCell(r, v)}
        ${elapsedCell(r, v)}
        ${etaCell(r, v)}
        <td class="created">${esc(r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</td>
        <td class="description">${esc(r.description)}${r.fatal ? `<br><span class="fatal">stopped: ${esc(r.fatal)}</span>` : ''}</td>
      </tr>`
  }).join('')
  const queue = Object.entries(counts).filter(([, n]) => n > 0).map(([s, n]) => `${esc(s)} ${n}`).join(' · ') || 'empty'
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="refresh" content="2">
  <title>s3c runs</title>
  <style>
    body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
    table { border-collapse: collapse; width: 100%; }
    th, td { padding: .35rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    td.run-id, td.created { white-space: nowrap; }
    .state-done .state { color: #1a7f37; } .state-failed .state, .fatal { color: #cf222e; } .state-running .state { color: #0969da; } .state-interrupted .state { color: #9a6700; }
    td.walking { color: #9a6700; white-space: nowrap; } small { color: #666; }
    header { display: flex; gap: 1.5rem; align-items: baseline; }
  </style>
</head>
<body>
  <header>
    <h1>s3c runs</h1>
    <a href="queues">queue (bull-board)</a>
    <a href="api/runs">JSON</a>
    <a href="metrics">metrics</a>
    ${opts.readOnly ? '<span>read-only</span>' : ''}
  </header>
  <p>queue <code>s3c</code>: <span id="queue-counts">${queue}</span> · workers connected: <span id="workers">${opts.workers ?? 'unknown'}</span></p>
  <table id="runs">
    <thead><tr><th>run</th><th>state</th><th class="num">progress</th><th class="num">done</th><th class="num">skipped</th><th class="num">failed</th>
      <th class="num">jobs pending</th><th class="num">bytes</th><th class="num" title="running: over the last ~10 s; finished: average while it ran">rate</th>
      <th class="num" title="from the first job started">elapsed</th><th class="num">ETA</th><th>queued</th><th>what</th></tr></thead>
    <tbody>${rows || '\n      <tr><td colspan="13">no runs in this Redis yet</td></tr>'}
    </tbody>
  </table>
</body>
</html>
`
}
