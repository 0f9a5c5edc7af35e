import assert from 'node:assert/strict'
import {anyMatcher, excludesWholeFolder, hasWildcard, keyPattern, literalPrefix, wildcardMatcher} from '../../src/base/wildcard.js'
import {keyFilter} from '../../src/base/filter.js'

describe('the wildcard rule (filters and S3 URLs)', function () {
  it('* and ** match any run of characters, / included (as s5cmd and the AWS CLI)', function () {
    const m = wildcardMatcher('*.tmp')
    assert.equal(m('x.tmp'), true)
    assert.equal(m('a/b/c.tmp'), true)
    assert.equal(m('x.tmp.gz'), false)
    assert.equal(wildcardMatcher('logs/*/2020-*.gz')('logs/a/2020-01.gz'), true)
    assert.equal(wildcardMatcher('logs/*/2020-*.gz')('logs/a/b/2020-01.gz'), true)
    assert.equal(wildcardMatcher('logs/*/2020-*.gz')('logs/2020-01.gz'), false)
    assert.equal(wildcardMatcher('a/**/z')('a/b/c/z'), true)
    assert.equal(wildcardMatcher('*')('a\nb/c\rd'), true, 'names with line breaks match too')
  })

  it('? is one character, [..] a class, [!..] its complement, \\ a literal', function () {
    assert.equal(wildcardMatcher('f?.txt')('f1.txt'), true)
    assert.equal(wildcardMatcher('f?.txt')('f12.txt'), false)
    assert.equal(wildcardMatcher('f[0-9].txt')('f7.txt'), true)
    assert.equal(wildcardMatcher('f[!0-9].txt')('f7.txt'), false)
    assert.equal(wildcardMatcher('f[!0-9].txt')('fx.txt'), true)
    assert.equal(wildcardMatcher('a\\*b')('a*b'), true)
    assert.equal(wildcardMatcher('a\\*b')('axb'), false)
    assert.equal(wildcardMatcher('a.b(c)+$')('a.b(c)+$'), true, 'regex characters are literal')
    assert.equal(wildcardMatcher('é*')('éte'), true)
    assert.throws(() => wildcardMatcher('a[bc'), /does not close/)
  })

  it('lists only up to the first wildcard', function () {
    assert.equal(literalPrefix('logs/*/2020-*.gz'), 'logs/')
    assert.equal(literalPrefix('logs/2020-?1'), 'logs/2020-')
    assert.equal(literalPrefix('a\\*b*'), 'a*b')
    assert.equal(hasWildcard('a\\*b'), false)
    assert.equal(hasWildcard('a/b[0]'), true)
    const p = keyPattern('data/2020-*/x.csv')
    assert.equal(p.listPrefix, 'data/2020-')
    assert.equal(p.relativeTo, 'data/')
    assert.equal(p.matches('data/2020-01/x.csv'), true)
  })

  it('--include/--exclude: any of the patterns, exclude wins; an excluded folder/* is not read', function () {
    const f = keyFilter({include: ['*.log', '*.txt'], exclude: ['tmp/*']})
    assert.equal(f('a/b.log'), true)
    assert.equal(f('tmp/b.log'), false)
    assert.equal(f('a/b.bin'), false)
    assert.equal(anyMatcher([]), undefined)
    const folder = excludesWholeFolder(['build/*', '*/node_modules/*', '*.tmp'])!
    assert.equal(folder('build'), true)
    assert.equal(folder('x/node_modules'), true)
    assert.equal(folder('src'), false)
  })
})
