import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {request} from 'node:http'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {chromium, type Browser} from 'playwright-core'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {projectRoot} from './harness/servers.js'
import {startProxy} from './harness/proxy.js'
import {makeTree, seededBytes} from './harness/tree.js'
import {waitFor} from './harness/wait.js'
import {chromiumTool, findTool} from './harness/tools.js'

const ARTIFACTS = join(projectRoot, 'test-artifacts')
const FILES = 50

type Spawned = ReturnType<typeof spawnCli>

/** Starts `s3c dashboard` on a free port and waits for its one line `dashboard: URL`. */
async function startDashboard(args: string[]): Promise<{url: string; proc: Spawned; output: () => string}> {
  const proc = spawnCli(['dashboard', '--redis', harness().redis.url, '--port', '0', ...args])
  let out = ''
  proc.child.stdout!.on('data', d => { out += d })
  proc.child.stderr!.on('data', d => { out += d })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dashboard did not start: ${out}`)), 15_000)
    const check = () => {
      const m = /^dashboard: (http:\/\/\S+\/)$/m.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    }
    proc.child.stdout!.on('data', check)
    proc.child.once('exit', code => { clearTimeout(timer); reject(new Error(`dashboard exited (${code}): ${out}`)) })
  })
  return {url, proc, output: () => out}
}

async function stop(p: Spawned | undefined): Promise<number | undefined> {
  if (!p) return undefined
  if (p.child.exitCode === null) p.child.kill('SIGTERM')
  return (await p.done).code
}

/** A raw HTTP request (fetch will not send a forged Host header). */
function raw(url: string, method: string, path: string, headers: Record<string, string>): Promise<{status: number; body: string}> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request({host: u.hostname, port: u.port, method, path, headers: {...headers, 'Content-Type': 'application/json'}}, res => {
      let body = ''
      res.on('data', d => { body += d })
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
    })
    req.on('error', reject)
    req.end(method === 'GET' || method === 'HEAD' ? undefined : '{}')
  })
}

const basic = (user: string, password: string) => ({Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as {port: number}
      s.close(() => resolve(port))
    })
  })
}

describe('s3c dashboard', function () {
  this.timeout(60_000)
  const dirs: string[] = []
  let runId = ''
  let dash: Awaited<ReturnType<typeof startDashboard>> | undefined
  let browser: Browser | undefined
  /** Chromium from apt, found on the PATH; a missing browser fails the test (it is part of the suite, not optional). */
  async function launch(): Promise<Browser> {
    return browser ??= await chromium.launch({
      executablePath: findTool(chromiumTool),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  }

  before(async function () {
    const src = mkdtempSync(join(tmpdir(), 's3c-dash-'))
    dirs.push(src)
    makeTree(src, {files: FILES, depth: 3})
    const bucket = await newBucket('dash')
    const env = {S3C_REDIS_URL: harness().redis.url}
    const worker = spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '2'], {env})
    try {
      const up = await runCli(['upload', src, `s3://${bucket}/d`, '--json', '--quiet'], {env})
      assert.equal(up.code, 0, up.stderr)
      const summary = JSON.parse(up.stdout)
      assert.equal(summary.filesDone, FILES)
      // -q keeps the "run <id>" line off stderr; the id is in the --json object.
      runId = String(summary.runId ?? '')
      assert.match(runId, /^\d{8}-[0-9a-f]{8}$/, `no run id in: ${up.stdout}`)
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
    mkdirSync(ARTIFACTS, {recursive: true})
    dash = await startDashboard(['--auth', 'user:secret'])
  })

  after(async () => {
    await browser?.close()
    await stop(dash?.proc)
    for (const d of dirs) rmSync(d, {recursive: true, force: true})
  })

  it('prints one line with its URL, binds 127.0.0.1 and never prints the password', function () {
    assert.match(dash!.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    assert.equal(dash!.output().trim(), `dashboard: ${dash!.url}`)
    assert.doesNotMatch(dash!.output(), /secret/)
  })

  it('asks for basic auth: 401 with WWW-Authenticate without or with wrong credentials', async function () {
    for (const headers of [{}, basic('user', 'wrong'), basic('other', 'secret'), {Authorization: 'Bearer secret'}]) {
      for (const path of ['', 'queues', 'queues/api/queues', 'api/runs', 'metrics']) {
        const r = await fetch(dash!.url + path, {headers})
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`)
        assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="s3c dashboard"/)
      }
    }
    assert.equal((await fetch(dash!.url, {headers: basic('user', 'secret')})).status, 200)
  })

  it('shows the run on / and the s3c queue in bull-board at /queues (real Chromium)', async function () {
    const context = await (await launch()).newContext({httpCredentials: {username: 'user', password: 'secret'}, viewport: {width: 1280, height: 800}})
    // bull-board links web fonts; nothing but the dashboard itself is reachable (or needed) here.
    const origin = new URL(dash!.url).origin
    await context.route('**/*', route => (route.request().url().startsWith(origin) ? route.continue() : route.abort()))
    const page = await context.newPage()

    const res = await page.goto(dash!.url, {waitUntil: 'domcontentloaded'})
    assert.equal(res?.status(), 200)
    const row = page.locator(`tr[data-run="${runId}"]`)
    await row.waitFor({timeout: 10_000})
    assert.equal((await row.locator('.files-done').innerText()).trim(), String(FILES))
    assert.equal((await row.locator('.files-failed').innerText()).trim(), '0')
    assert.equal((await row.locator('.state').innerText()).trim(), 'done')
    assert.equal((await row.locator('.jobs-pending').innerText()).trim(), '0')
    await page.screenshot({path: join(ARTIFACTS, 'dashboard.png'), fullPage: true})

    const q = await page.goto(dash!.url + 'queues', {waitUntil: 'domcontentloaded'})
    assert.equal(q?.status(), 200)
    // The queue's card in the overview, drawn by bull-board's UI from its API (not by our HTML).
    const card = page.locator('main li:has(a[title="s3c"])')
    await card.waitFor({timeout: 15_000})
    assert.equal((await card.locator('a[title="s3c"]').innerText()).trim(), 's3c')
    // Finished jobs are removed (removeOnComplete), so bull-board's total is what is left in the
    // queue: the same number /metrics gives.
    const total = Number(/(\d[\d,]*) Jobs?/.exec(await card.innerText())?.[1]?.replace(/,/g, ''))
    const metrics = await (await fetch(dash!.url + 'metrics', {headers: basic('user', 'secret')})).text()
    const sum = [...metrics.matchAll(/^s3c_queue_jobs\{state="[^"]+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
    assert.equal(total, sum)
    assert.equal(await card.locator('[aria-haspopup="menu"]').count(), 1, 'a writable board has the queue actions menu')
    await page.screenshot({path: join(ARTIFACTS, 'queues.png'), fullPage: true})
    await context.close()
  })

  it('/metrics: Prometheus text with the queue job counts and the run counters', async function () {
    const r = await fetch(dash!.url + 'metrics', {headers: basic('user', 'secret')})
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const text = await r.text()
    for (const state of ['waiting', 'active', 'completed', 'failed', 'delayed'])
      assert.match(text, new RegExp(`^s3c_queue_jobs\\{state="${state}"\\} \\d+$`, 'm'))
    assert.match(text, /^# TYPE s3c_queue_jobs gauge$/m)
    const sample = (name: string) => Number(new RegExp(`^${name}\\{run="${runId}"\\} (\\S+)$`, 'm').exec(text)?.[1])
    assert.equal(sample('s3c_run_files_done'), FILES)
    assert.equal(sample('s3c_run_files_failed'), 0)
    assert.equal(sample('s3c_run_jobs_pending'), 0)
    assert.ok(sample('s3c_run_bytes') > 0)
    assert.match(text, new RegExp(`^s3c_run_info\\{run="${runId}",state="done",`, 'm'))

    const runs = await (await fetch(dash!.url + 'api/runs', {headers: basic('user', 'secret')})).json() as {runId: string; filesDone: number}[]
    assert.equal(runs.find(x => x.runId === runId)?.filesDone, FILES)
  })

  it('shows how many workers are connected: on the page and as s3c_workers in /metrics', async function () {
    const headers = basic('user', 'secret')
    const workers = async () => {
      const m = Number(/^s3c_workers (\d+)$/m.exec(await (await fetch(dash!.url + 'metrics', {headers})).text())?.[1])
      const page = Number(/<span id="workers">(\d+)<\/span>/.exec(await (await fetch(dash!.url, {headers})).text())?.[1])
      return {m, page}
    }
    // The before hook's worker has stopped: its connection goes with it.
    await waitFor(async () => (await workers()).m === 0)
    assert.deepEqual(await workers(), {m: 0, page: 0})
    const env = {S3C_REDIS_URL: harness().redis.url}
    const started = [0, 1].map(() => spawnCli(['worker', '--concurrency', '4'], {env}))
    try {
      await waitFor(async () => (await workers()).m === 2)
      assert.deepEqual(await workers(), {m: 2, page: 2})
    } finally {
      for (const w of started) w.child.kill('SIGTERM')
      await Promise.all(started.map(w => w.done))
    }
    await waitFor(async () => (await workers()).m === 0)
  })

  it('the runs page in Chromium: a running distributed run shows workers, its share, elapsed time and current rate; finished, 100% and its average rate', async function () {
    const headers = basic('user', 'secret')
    // Three files over the multipart threshold: one job each. The third one's parts are held by
    // the proxy, so the run stops at 2 of 3 files, walk done, for as long as the test looks.
    const src = mkdtempSync(join(tmpdir(), 's3c-dash-run-'))
    dirs.push(src)
    for (const [i, name] of ['a', 'b', 'c'].entries()) writeFileSync(join(src, name), seededBytes(i + 7, 9 * 1024 * 1024))
    const bucket = await newBucket('dashrun')
    const held = (r: {method: string; path: string}) => r.method === 'PUT' && r.path === `/${bucket}/run/c`
    const proxy = await startProxy(harness().s3.endpoint, {hold: held})
    const env = {AWS_ENDPOINT_URL: proxy.endpoint, S3C_REDIS_URL: harness().redis.url}
    const worker = spawnCli(['worker', '--concurrency', '4'], {env})
    let upload: Spawned | undefined
    const context = await (await launch()).newContext({httpCredentials: {username: 'user', password: 'secret'}, viewport: {width: 1400, height: 800}})
    try {
      upload = spawnCli(['upload', src, `s3://${bucket}/run/`, '--json', '--quiet'], {env})
      type ApiRun = {runId: string; description: string; state: string; filesDone: number; filesFound: number; walkDone: boolean; startedAt?: string}
      const find = async () => ((await (await fetch(dash!.url + 'api/runs', {headers})).json()) as ApiRun[]).find(r => r.description.includes(bucket))
      await waitFor(async () => proxy.held() > 0 && (await find())?.filesDone === 2, 60_000)
      const run = (await find())!
      assert.equal(run.state, 'running')
      assert.equal(run.walkDone, true)
      assert.equal(run.filesFound, 3)
      assert.ok(run.startedAt, 'the first job has started')

      await context.route('**/*', route => (route.request().url().startsWith(new URL(dash!.url).origin) ? route.continue() : route.abort()))
      const page = await context.newPage()
      const row = page.locator(`tr[data-run="${run.runId}"]`)
      // The page reloads itself every 2 s; the current rate needs two samples of the run's counters.
      await page.goto(dash!.url, {waitUntil: 'domcontentloaded'})
      await page.locator(`tr[data-run="${run.runId}"] td.rate[data-kind="current"]`).waitFor({timeout: 20_000})
      assert.equal((await page.locator('#workers').innerText()).trim(), '1')
      assert.equal((await row.locator('.state').innerText()).trim(), 'running')
      assert.equal(await row.locator('.progress').getAttribute('data-percent'), '66')
      assert.match(await row.locator('.progress').innerText(), /^66% \(2 of 3\)$/)
      const number = (v: string | null) => v !== null && v !== '' && Number.isFinite(Number(v))
      assert.ok(number(await row.locator('.elapsed').getAttribute('data-seconds')))
      assert.match(await row.locator('.elapsed').innerText(), /^\d+(s|m\d\ds|h\d\dm)$/)
      const rate = row.locator('.rate')
      assert.ok(number(await rate.getAttribute('data-files-per-second')))
      assert.ok(number(await rate.getAttribute('data-bytes-per-second')))
      assert.match(await rate.innerText(), /^[\d.]+ files\/s · [\d.]+ (B|KiB|MiB|GiB)\/s$/)
      // The walk is done: an ETA when files moved in the last ~10 s, else a dash (nothing is made up).
      const eta = row.locator('.eta')
      assert.ok(number(await eta.getAttribute('data-seconds')) || (await eta.innerText()).trim() === '—', await eta.innerText())
      await page.screenshot({path: join(ARTIFACTS, 'dashboard-running.png'), fullPage: true})

      proxy.setFaults({})
      const up = await upload.done
      assert.equal(up.code, 0, up.stderr)
      assert.equal(JSON.parse(up.stdout).runId, run.runId)
      await page.reload({waitUntil: 'domcontentloaded'})
      await page.locator(`tr[data-run="${run.runId}"].state-done`).waitFor({timeout: 10_000})
      assert.equal(await row.locator('.progress').getAttribute('data-percent'), '100')
      assert.equal(await rate.getAttribute('data-kind'), 'average')
      assert.ok(Number(await rate.getAttribute('data-files-per-second')) > 0)
      assert.ok(Number(await rate.getAttribute('data-bytes-per-second')) > 0)
      assert.match(await rate.innerText(), /^avg [\d.]+ files\/s · [\d.]+ (B|KiB|MiB|GiB)\/s$/)
      assert.ok(number(await row.locator('.elapsed').getAttribute('data-seconds')))
      assert.equal((await row.locator('.eta').innerText()).trim(), '')
      // The before hook's run, finished long before this page was opened: the same.
      const first = page.locator(`tr[data-run="${runId}"]`)
      assert.equal(await first.locator('.progress').getAttribute('data-percent'), '100')
      assert.equal(await first.locator('.rate').getAttribute('data-kind'), 'average')
      assert.ok(Number(await first.locator('.rate').getAttribute('data-files-per-second')) > 0)
      await page.screenshot({path: join(ARTIFACTS, 'dashboard-finished.png'), fullPage: true})
      const metrics = await (await fetch(dash!.url + 'metrics', {headers})).text()
      assert.match(metrics, new RegExp(`^s3c_run_files_found\\{run="${run.runId}"\\} 3$`, 'm'))
      assert.match(metrics, new RegExp(`^s3c_run_walk_done\\{run="${run.runId}"\\} 1$`, 'm'))
    } finally {
      proxy.setFaults({})
      await context.close()
      if (upload && upload.child.exitCode === null) upload.child.kill('SIGTERM')
      await upload?.done
      worker.child.kill('SIGTERM')
      await worker.done
      await proxy.stop()
    }
  })

  it('the runs page in Chromium: while the walk runs, "walk still running" and what it found so far, no share and no ETA', async function () {
    const headers = basic('user', 'secret')
    const src = mkdtempSync(join(tmpdir(), 's3c-dash-walk-'))
    const dst = mkdtempSync(join(tmpdir(), 's3c-dash-walk-dst-'))
    dirs.push(src, dst)
    makeTree(src, {files: 3, depth: 1})
    const bucket = await newBucket('dashwalk')
    // In-process (no Redis): only the download below is a run on the page.
    assert.equal((await runCli(['upload', src, `s3://${bucket}/w`, '--quiet'])).code, 0)
    // The download's walk is its listing of the bucket: held, the walk cannot end.
    const proxy = await startProxy(harness().s3.endpoint, {hold: r => r.method === 'GET' && /(^|&)list-type=2/.test(r.query) && r.path.startsWith(`/${bucket}`)})
    const env = {AWS_ENDPOINT_URL: proxy.endpoint, S3C_REDIS_URL: harness().redis.url}
    const download = spawnCli(['download', `s3://${bucket}/w/`, dst, '--quiet'], {env})
    const context = await (await launch()).newContext({httpCredentials: {username: 'user', password: 'secret'}})
    try {
      type ApiRun = {runId: string; description: string; state: string; walkDone: boolean}
      let run: ApiRun | undefined
      await waitFor(async () => {
        run = ((await (await fetch(dash!.url + 'api/runs', {headers})).json()) as ApiRun[]).find(r => r.description.includes(bucket))
        return run !== undefined && proxy.held() > 0
      }, 60_000)
      assert.equal(run!.walkDone, false)
      await context.route('**/*', route => (route.request().url().startsWith(new URL(dash!.url).origin) ? route.continue() : route.abort()))
      const page = await context.newPage()
      await page.goto(dash!.url, {waitUntil: 'domcontentloaded'})
      const row = page.locator(`tr[data-run="${run!.runId}"]`)
      await row.waitFor({timeout: 10_000})
      assert.equal((await row.locator('.state').innerText()).trim(), 'enqueuing')
      assert.match(await row.locator('.progress').innerText(), /^walk still running · \d+ found so far$/)
      assert.equal(await row.locator('.progress').getAttribute('data-percent'), null)
      assert.equal((await row.locator('.eta').innerText()).trim(), 'after the walk')
      // No worker has taken a job of it: nothing has started, so no time and no rate to show.
      assert.equal((await row.locator('.elapsed').innerText()).trim(), 'not started')
      await page.screenshot({path: join(ARTIFACTS, 'dashboard-walking.png'), fullPage: true})
    } finally {
      await context.close()
      // Released once stopped: an interrupted CLI waits for a listing in flight (up to 15 s) rather than cut it.
      download.child.kill('SIGTERM')
      proxy.setFaults({})
      await download.done
      await proxy.stop()
    }
  })

  it('a writable dashboard lets bull-board pause the queue, but not from another origin', async function () {
    const headers = basic('user', 'secret')
    const evil = await fetch(dash!.url + 'queues/api/queues/s3c/pause', {method: 'PUT', headers: {...headers, Origin: 'http://evil.example'}})
    assert.equal(evil.status, 403)
    // A write must show it comes from the dashboard's own page (browsers send Origin on every write).
    const same = {...headers, Origin: new URL(dash!.url).origin}
    try {
      assert.equal((await fetch(dash!.url + 'queues/api/queues/s3c/pause', {method: 'PUT', headers: same})).status, 200)
      const m = await (await fetch(dash!.url + 'metrics', {headers})).text()
      assert.match(m, /^s3c_queue_paused 1$/m)
    } finally {
      assert.equal((await fetch(dash!.url + 'queues/api/queues/s3c/resume', {method: 'PUT', headers: same})).status, 200)
    }
  })

  it('answers only to its own host names: a forged Host (DNS rebinding) can neither read nor write; writes need a same-origin Origin', async function () {
    const open = await startDashboard([])
    try {
      const port = new URL(open.url).port
      const paused = async () => /^s3c_queue_paused 1$/m.test((await raw(open.url, 'GET', '/metrics', {Host: `127.0.0.1:${port}`})).body)
      // The attacker's page at http://evil.example:PORT, whose name now resolves to 127.0.0.1.
      const evil = {Host: `evil.example:${port}`, Origin: `http://evil.example:${port}`}
      for (const [method, path] of [['GET', '/'], ['GET', '/api/runs'], ['GET', '/metrics'], ['GET', '/queues/api/queues'],
        ['PUT', '/queues/api/queues/s3c/pause'], ['PUT', '/queues/api/queues/s3c/clean/completed']]) {
        const r = await raw(open.url, method, path, evil)
        assert.equal(r.status, 403, `${method} ${path}`)
        assert.doesNotMatch(r.body, new RegExp(runId))
      }
      assert.equal(await paused(), false)
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
        const r = await raw(open.url, 'GET', '/api/runs', {Host: host})
        assert.equal(r.status, 200, host)
        assert.match(r.body, new RegExp(runId))
      }
      const own = `http://127.0.0.1:${port}`
      assert.equal((await raw(open.url, 'PUT', '/queues/api/queues/s3c/pause', {Host: `127.0.0.1:${port}`})).status, 403, 'a write without Origin')
      assert.equal((await raw(open.url, 'PUT', '/queues/api/queues/s3c/pause', {Host: `127.0.0.1:${port}`, Origin: `http://localhost:${port}`})).status, 403, 'another origin')
      assert.equal(await paused(), false)
      try {
        assert.equal((await raw(open.url, 'PUT', '/queues/api/queues/s3c/pause', {Host: `127.0.0.1:${port}`, Origin: own})).status, 200)
        assert.equal(await paused(), true)
      } finally {
        assert.equal((await raw(open.url, 'PUT', '/queues/api/queues/s3c/resume', {Host: `127.0.0.1:${port}`, Origin: own})).status, 200)
      }
    } finally {
      assert.equal(await stop(open.proc), 0)
    }
    const proxied = await startDashboard(['--allowed-host', 'dash.example.com', '--allowed-host', 'ops.example.com:8443'])
    try {
      assert.equal((await raw(proxied.url, 'GET', '/api/runs', {Host: 'dash.example.com'})).status, 200)
      assert.equal((await raw(proxied.url, 'GET', '/api/runs', {Host: 'ops.example.com:8443'})).status, 200)
      assert.equal((await raw(proxied.url, 'GET', '/api/runs', {Host: 'ops.example.com:9999'})).status, 403)
      assert.equal((await raw(proxied.url, 'GET', '/api/runs', {Host: 'evil.example'})).status, 403)
      assert.equal((await raw(proxied.url, 'PUT', '/queues/api/queues/s3c/pause', {Host: 'evil.example', Origin: 'https://dash.example.com'})).status, 403)
    } finally {
      assert.equal(await stop(proxied.proc), 0)
    }
  })

  it('--read-only: bull-board shows no actions and every non-GET request under /queues is 403', async function () {
    const ro = await startDashboard(['--read-only'])
    try {
      for (const [method, path] of [['PUT', 'queues/api/queues/s3c/pause'], ['PUT', 'queues/api/queues/s3c/clean/completed'],
        ['POST', 'queues/api/queues/s3c/add'], ['PUT', 'queues/api/queues/s3c/obliterate'], ['PATCH', 'queues/api/queues/s3c/1/update-data'],
        ['DELETE', 'queues/api/queues/s3c']] as const) {
        const r = await fetch(ro.url + path, {method, headers: {'Content-Type': 'application/json'}, body: '{}'})
        assert.equal(r.status, 403, `${method} ${path}`)
      }
      const q = await fetch(ro.url + 'queues/api/queues')
      assert.equal(q.status, 200)
      const body = await q.json() as {queues: {name: string; readOnlyMode: boolean}[]}
      assert.deepEqual(body.queues.map(x => [x.name, x.readOnlyMode]), [['s3c', true]])
      assert.equal((await fetch(ro.url + 'metrics', {method: 'HEAD'})).status, 200)

      // In the browser: the queue card has no actions menu (pause, clean, obliterate…).
      const page = await (await launch()).newPage()
      await page.route('**/*', route => (route.request().url().startsWith(new URL(ro.url).origin) ? route.continue() : route.abort()))
      await page.goto(ro.url + 'queues', {waitUntil: 'domcontentloaded'})
      const card = page.locator('main li:has(a[title="s3c"])')
      await card.waitFor({timeout: 15_000})
      assert.equal(await card.locator('[aria-haspopup="menu"]').count(), 0)
      assert.equal(await page.title(), 's3c dashboard (read-only)')
      await page.close()
    } finally {
      assert.equal(await stop(ro.proc), 0, 'SIGTERM: closes and exits 0')
    }
  })

  it('refuses an unreachable Redis in one line, non-zero exit', async function () {
    const port = await freePort()
    const r = await runCli(['dashboard', '--redis', `redis://:pw@127.0.0.1:${port}`, '--port', '0'])
    assert.equal(r.code, 3)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^s3c: cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  })

  it('refuses a Redis that may evict keys', async function () {
    if (spawnSync('redis-server', ['--version']).error) this.skip()
    const port = await freePort()
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'allkeys-lru'], {stdio: 'ignore'})
    try {
      const end = Date.now() + 10_000
      while (spawnSync('redis-cli', ['-p', String(port), 'ping'], {encoding: 'utf8'}).stdout?.trim() !== 'PONG') {
        if (Date.now() > end) throw new Error('redis-server did not start')
        await new Promise(res => setTimeout(res, 100))
      }
      const r = await runCli(['dashboard', '--redis', `redis://127.0.0.1:${port}`, '--port', '0'])
      assert.equal(r.code, 3)
      assert.equal(r.stderr.trim(), 's3c: Redis maxmemory-policy is "allkeys-lru": BullMQ needs "noeviction" (redis-cli config set maxmemory-policy noeviction)')
    } finally {
      const exited = new Promise(res => child.once('exit', res))
      child.kill('SIGTERM')
      await exited
    }
  })
})
