import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {join, relative} from 'node:path'

/** One member of a tar written by Python's tarfile (which writes names GNU tar would refuse to write). */
export interface PyMember {
  name: string
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'chardev' | 'blockdev'
  data?: string
  linkname?: string
}

/** Writes a tar with exactly these members, in this order, with Python's tarfile. */
export function pyTar(path: string, members: PyMember[], format: 'pax' | 'gnu' | 'ustar' = 'pax'): void {
  const fmt = {pax: 'PAX_FORMAT', gnu: 'GNU_FORMAT', ustar: 'USTAR_FORMAT'}[format]
  execFileSync('python3', ['-c', `
import io, json, sys, tarfile
members = json.loads(sys.argv[2])
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE,
         'fifo': tarfile.FIFOTYPE, 'chardev': tarfile.CHRTYPE, 'blockdev': tarfile.BLKTYPE}
with tarfile.open(sys.argv[1], 'w', format=tarfile.${fmt}) as t:
    for m in members:
        info = tarfile.TarInfo(m['name'])
        info.type = types[m.get('type', 'file')]
        info.mode = 0o755 if info.type == tarfile.DIRTYPE else 0o644
        info.mtime = 1700000000
        if 'linkname' in m: info.linkname = m['linkname']
        if info.type == tarfile.REGTYPE:
            data = m.get('data', '').encode()
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        else:
            t.addfile(info)
`, path, JSON.stringify(members)])
}

/**
 * Everything under root (lstat: links are listed as links, not followed) with what it is and
 * its content, except the subtree `skip`: the "before/after" picture of a destination's parents.
 */
export function snapshot(root: string, skip?: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      if (skip && p === skip) continue
      const st = lstatSync(p)
      const rel = relative(root, p)
      if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`)
      else if (st.isDirectory()) {
        out.push(`${rel}/`)
        walk(p)
      } else out.push(`${rel} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)} nlink=${st.nlink}`)
    }
  }
  if (existsSync(root)) walk(root)
  return out
}
