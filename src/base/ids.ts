import {randomBytes} from 'node:crypto'

/** A run id: the date and 8 random hex digits, e.g. 20261124-1a2b3c4d. */
export function newRunId(): string {
  return `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`
}
