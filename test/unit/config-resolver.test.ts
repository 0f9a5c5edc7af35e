import assert from 'node:assert/strict'
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {CONFIG_PREFIX_SEPARATOR} from '@smithy/core/config'
import {resolveS3Config, SUB} from '../../src/s3/config.js'
import {scratchDirs} from '../harness/scratch.js'

// The resolution from flags, environment and files alone; test/config.test.ts sends requests through it.
const mk = scratchDirs()

describe('connecting: the endpoint resolver', function () {
  let d: string
  let env: Record<string, string>
  const configLines = {
    defaultRegion: '[default]\nregion = eu-central-1\nendpoint_url = http://default-endpoint\n',
    head: '[profile x]\nregion = eu-west-3\n',
    endpointUrl: 'endpoint_url = http://x-endpoint-url\n',
    services: 'services = x-services\n',
    nested: 's3 =\n  endpoint_url = http://x-nested\n  addressing_style = virtual\n',
    servicesSection: '[services x-services]\ns3 =\n  endpoint_url = http://x-services-s3\n',
  }
  const writeConfig = (parts: (keyof typeof configLines)[]) =>
    writeFileSync(join(d, 'config'), parts.map(p => configLines[p]).join(''))
  beforeEach(function () {
    d = mk('resolver')
    env = {HOME: d, AWS_CONFIG_FILE: join(d, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(d, 'credentials')}
    writeFileSync(join(d, 'credentials'), '[y]\naws_access_key_id = K\ns3=\n endpoint_url=http://y-nested-in-credentials\n')
  })

  it('names sub-settings as the SDK\'s ini loader does (its loader is imported only when a file exists)', async function () {
    assert.equal(SUB, CONFIG_PREFIX_SEPARATOR)
    rmSync(join(d, 'credentials'))
    const c = await resolveS3Config({}, 8, {...env, AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's'})
    assert.equal(c.region, 'us-east-1')
    assert.deepEqual(c.staticKeys, {accessKeyId: 'k', secretAccessKey: 's'})
  })

  it('endpoint: flag > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > S3_ENDPOINT_URL > profile s3.endpoint_url > services > endpoint_url > AWS', async function () {
    writeConfig(['defaultRegion', 'head', 'endpointUrl', 'services', 'nested', 'servicesSection'])
    const e: Record<string, string | undefined> = {...env, AWS_PROFILE: 'x', AWS_ENDPOINT_URL_S3: 'http://a', AWS_ENDPOINT_URL: 'http://b', S3_ENDPOINT_URL: 'http://c'}
    const endpoint = async (flags = {}) => (await resolveS3Config(flags, 8, e)).endpoint
    assert.equal(await endpoint({'endpoint-url': 'http://f'}), 'http://f')
    assert.equal(await endpoint(), 'http://a')
    delete e.AWS_ENDPOINT_URL_S3
    assert.equal(await endpoint(), 'http://b')
    delete e.AWS_ENDPOINT_URL
    assert.equal(await endpoint(), 'http://c')
    delete e.S3_ENDPOINT_URL
    assert.equal(await endpoint(), 'http://x-nested')
    writeConfig(['defaultRegion', 'head', 'endpointUrl', 'services', 'servicesSection'])
    assert.equal(await endpoint(), 'http://x-services-s3')
    writeConfig(['defaultRegion', 'head', 'endpointUrl'])
    assert.equal(await endpoint(), 'http://x-endpoint-url')
    writeConfig(['defaultRegion', 'head'])
    assert.equal(await endpoint(), undefined)
    // --profile beats AWS_PROFILE; the nested form is read from the credentials file too.
    assert.equal(await endpoint({profile: 'y'}), 'http://y-nested-in-credentials')
    // No profile named: [default].
    delete e.AWS_PROFILE
    assert.equal(await endpoint(), 'http://default-endpoint')
  })

  it('the same key in both files: the config file wins (as the SDK merges them)', async function () {
    writeFileSync(join(d, 'config'), '[profile y]\ns3 =\n  endpoint_url = http://y-in-config\n')
    assert.equal((await resolveS3Config({profile: 'y'}, 8, env)).endpoint, 'http://y-in-config')
  })

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: only --endpoint-url counts', async function () {
    writeConfig(['defaultRegion', 'head', 'endpointUrl'])
    const e = {...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', AWS_ENDPOINT_URL: 'http://b', AWS_PROFILE: 'x'}
    assert.equal((await resolveS3Config({}, 8, e)).endpoint, undefined)
    assert.equal((await resolveS3Config({'endpoint-url': 'http://f'}, 8, e)).endpoint, 'http://f')
  })

  it('region: flag > AWS_REGION > AWS_DEFAULT_REGION > the profile > us-east-1', async function () {
    writeConfig(['defaultRegion', 'head'])
    const e: Record<string, string | undefined> = {...env, AWS_PROFILE: 'x', AWS_REGION: 'r1', AWS_DEFAULT_REGION: 'r2'}
    const region = async (flags = {}) => (await resolveS3Config(flags, 8, e)).region
    assert.equal(await region({region: 'rf'}), 'rf')
    assert.equal(await region(), 'r1')
    delete e.AWS_REGION
    assert.equal(await region(), 'r2')
    delete e.AWS_DEFAULT_REGION
    assert.equal(await region(), 'eu-west-3')
    assert.equal(await region({profile: 'y'}), 'us-east-1')
  })

  it('path-style: flag > the profile\'s s3.addressing_style > on for a custom endpoint, off for AWS', async function () {
    writeConfig(['head', 'nested'])
    const e = {...env, AWS_PROFILE: 'x'}
    const style = async (flags = {}, extra = {}) => (await resolveS3Config(flags, 8, {...e, ...extra})).forcePathStyle
    assert.equal(await style(), false, 'addressing_style = virtual')
    assert.equal(await style({'path-style': true}), true)
    assert.equal(await style({}, {AWS_PROFILE: 'y'}), true, 'custom endpoint')
    assert.equal(await style({}, {AWS_PROFILE: undefined}), false, 'AWS')
    assert.equal(await style({'path-style': false}, {AWS_PROFILE: 'y'}), false)
    writeFileSync(join(d, 'config'), '[default]\ns3 =\n  addressing_style = path\n')
    assert.equal(await style({}, {AWS_PROFILE: undefined}), true, 'addressing_style = path, AWS')
  })

  it('an IP-address or localhost endpoint keeps path-style: one warning that --no-path-style / addressing_style is ignored', async function () {
    for (const host of ['127.0.0.1:9000', '[::1]:9000', 'localhost:9000', '10.1.2.3']) {
      const warnings: string[] = []
      const c = await resolveS3Config({'endpoint-url': `http://${host}`, 'path-style': false}, 8, env, w => warnings.push(w))
      assert.equal(c.forcePathStyle, true, host)
      assert.equal(warnings.length, 1, host)
      assert.match(warnings[0], /^--no-path-style is ignored: virtual-hosted addressing \(bucket\.host\) cannot work with http:\/\/\S+ \(an IP address or localhost\); using path-style$/)
    }
    writeFileSync(join(d, 'config'), '[default]\ns3 =\n  addressing_style = virtual\n')
    const warnings: string[] = []
    const c = await resolveS3Config({'endpoint-url': 'http://127.0.0.1:9000'}, 8, env, w => warnings.push(w))
    assert.equal(c.forcePathStyle, true)
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /^addressing_style = virtual \(profile "default"\) is ignored: virtual-hosted addressing/)
    // A DNS name: virtual-hosted, no warning.
    const quiet: string[] = []
    assert.equal((await resolveS3Config({'endpoint-url': 'http://s3.example.test', 'path-style': false}, 8, env, w => quiet.push(w))).forcePathStyle, false)
    assert.deepEqual(quiet, [])
  })

  it('a named profile that is in neither file is an error naming it and the files; [default] may be absent', async function () {
    writeConfig(['head'])
    await assert.rejects(resolveS3Config({profile: 'nosuch'}, 8, env), (err: Error & {exitCode?: number}) => {
      assert.equal(err.exitCode, 2)
      assert.equal(err.message, `AWS profile "nosuch" not found in ${join(d, 'config')} or ${join(d, 'credentials')}: check --profile / AWS_PROFILE`)
      return true
    })
    await assert.rejects(resolveS3Config({}, 8, {...env, AWS_PROFILE: 'nosuch'}), /AWS profile "nosuch" not found/)
    await assert.rejects(resolveS3Config({profile: 'constructor'}, 8, env), /AWS profile "constructor" not found/)
    assert.equal((await resolveS3Config({}, 8, env)).endpoint, undefined)
  })

  it('a services section that is not there, or an endpoint that is not a URL, is a one-line error', async function () {
    writeFileSync(join(d, 'config'), '[profile x]\nservices = nosuch\n')
    await assert.rejects(resolveS3Config({profile: 'x'}, 8, env), (err: Error & {exitCode?: number}) => {
      assert.equal(err.exitCode, 2)
      assert.match(err.message, /^profile "x" names the services section "nosuch", which is not in .*config: add \[services nosuch\] or fix services =$/)
      return true
    })
    await assert.rejects(resolveS3Config({'endpoint-url': '127.0.0.1:9000'}, 8, env),
      /: --endpoint-url "127\.0\.0\.1:9000" is not an http:\/\/ or https:\/\/ URL: write it as https:\/\/host\[:port\]$/)
    writeFileSync(join(d, 'config'), '[default]\nendpoint_url = s3.example.test\n')
    await assert.rejects(resolveS3Config({}, 8, env), /endpoint_url in profile "default", .*config "s3\.example\.test" is not an http/)
  })
})
