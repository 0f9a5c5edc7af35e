import {formatBytes} from '../base/units.js'
import type {RunStatus} from '../run/status.js'

const esc = (s: string) => s.replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)

/** The runs page: plain server-rendered HTML that reloads itself every 2 s. */
export function renderRunsPage(runs: RunStatus[], counts: Record<string, number>, opts: {readOnly: boolean; workers?: number}): string {
  const rows = runs.map(r => `
      <tr data-run="${esc(r.runId)}" class="state-${r.state}">
        <td class="run-id"><code>${esc(r.runId)}</code></td>
        <td class="state">${r.state}</td>
        <td class="files-done num">${r.filesDone}</td>
        <td class="files-skipped num">${r.filesSkipped}</td>
        <td class="files-failed num">${r.filesFailed}</td>
        <td class="jobs-pending num">${r.jobsPending}</td>
        <td class="bytes num">${esc(formatBytes(r.bytes))}</td>
        <td class="rate num">${esc(formatBytes(r.bytesPerSecond))}/s</td>
        <td class="created">${esc(r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</td>
        <td class="description">${esc(r.description)}${r.fatal ? `<br><span class="fatal">stopped: ${esc(r.fatal)}</span>` : ''}</td>
      </tr>`).join('')
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
    <thead><tr><th>run</th><th>state</th><th class="num">done</th><th class="num">skipped</th><th class="num">failed</th>
      <th class="num">jobs pending</th><th class="num">bytes</th><th class="num">rate</th><th>started</th><th>what</th></tr></thead>
    <tbody>${rows || '\n      <tr><td colspan="10">no runs in this Redis yet</td></tr>'}
    </tbody>
  </table>
</body>
</html>
`
}
