import {jobKinds} from './registry.js'
import type {Handlers} from './types.js'

export type {Handlers, JobContext, JobHandler} from './types.js'

/** The job handlers, by kind (from registry.ts): the single code path for the work, whoever runs it. */
export const handlers = Object.fromEntries(jobKinds.map(d => [d.kind, d.handler])) as Handlers
