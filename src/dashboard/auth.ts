import {createHash, timingSafeEqual} from 'node:crypto'
import type {RequestHandler} from 'express'
import {S3cError} from '../base/errors.js'

export interface BasicAuth {
  user: string
  password: string
}

/** `user:password` (the password may hold colons); the message never repeats the value. */
export function parseAuth(value: string): BasicAuth {
  const i = value.indexOf(':')
  if (i <= 0 || i === value.length - 1)
    throw new S3cError('--auth / S3C_DASHBOARD_AUTH must be user:password (both non-empty)')
  return {user: value.slice(0, i), password: value.slice(i + 1)}
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/**
 * HTTP basic auth on every route. The given and expected credentials are compared as sha256
 * digests (equal lengths) with timingSafeEqual, so the time taken tells nothing about either.
 */
export function basicAuth(auth: BasicAuth): RequestHandler {
  const expected = digest(`${auth.user}:${auth.password}`)
  return (req, res, next) => {
    const header = req.headers.authorization ?? ''
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
    const given = m ? Buffer.from(m[1], 'base64').toString('utf8') : ''
    if (m && timingSafeEqual(digest(given), expected)) return next()
    res.set('WWW-Authenticate', 'Basic realm="s3c dashboard", charset="UTF-8"')
    res.status(401).type('text/plain').send('authentication required\n')
  }
}
