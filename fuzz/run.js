#!/usr/bin/env node
// Runs both fuzzers for a time budget and prints what they found. Used by
// test/18-fuzz.test.js (the short run of `npm test`) and by scripts/fuzz.js (`npm run fuzz`),
// which runs this file in a child process (or under the sanitizers).
//
//   node fuzz/run.js [--seconds N | --minutes N] [--only marshal|lua] [--seed N[,M]]
//                    [--base N] [--known] [--strict-time] [--memory-every N] [--trace FILE] [--json FILE]
'use strict';

const fs = require('fs');
const path = require('path');
const { fuzzMarshal, KNOWN } = require('./marshal-fuzz');
const { fuzzLua } = require('./lua-fuzz');
const { KNOWN_PATTERNS } = require('./lua-gen');

/**
 * options: { seconds, only: 'marshal' | 'lua' | undefined, seed (number or [a, b]), base,
 * known, strictTime, log, trace (file written with the seed being run, for crashes) }.
 * The marshaling fuzzer gets 45% of the time, the Lua fuzzer the rest.
 */
async function runFuzzers(lib, options) {
  const { seconds = 60, only, seed, known = false, strictTime = false, log = (s) => process.stdout.write(`${s}\n`) } = options;
  const base = options.base ?? ((Date.now() ^ (process.pid << 16)) >>> 0);
  const trace = options.trace ? (what) => (s) => fs.writeFileSync(options.trace, `${what} ${s}\n`) : () => undefined;
  const started = Date.now();
  const out = { base, seconds, known };
  const share = only ? 1 : 0.45;
  log(`[fuzz] base seed ${base}${seed !== undefined ? `, replaying seed ${seed}` : ''}, ${seconds} s${known ? ', --known' : ''} (replay the whole run with --base ${base})`);
  if (only !== 'lua') {
    const t = Date.now();
    out.marshal = await fuzzMarshal(lib, {
      deadline: t + seconds * share * 1000, base, seed: Array.isArray(seed) ? seed[0] : seed, known, log, trace: trace('marshal'),
      verbose: seed !== undefined,
    });
    out.marshal.ms = Date.now() - t;
    const m = out.marshal;
    log(`[fuzz] marshaling: ${m.inputs} inputs, ${m.jobs} jobs in ${(m.ms / 1000).toFixed(1)} s, ${m.failures.length} failures`
      + `${Object.keys(m.knownHits).length ? `, known issues met: ${JSON.stringify(m.knownHits)}` : ''}`);
  }
  if (only !== 'marshal') {
    const t = Date.now();
    out.lua = await fuzzLua(lib, {
      deadline: Math.max(t + 5000, started + seconds * 1000), base, seed, known, log, strictTime, trace: trace('lua'), memoryEvery: options.memoryEvery,
      verbose: seed !== undefined,
    });
    out.lua.ms = Date.now() - t;
    const l = out.lua;
    log(`[fuzz] Lua sources: ${l.inputs} programs in ${(l.ms / 1000).toFixed(1)} s, ${l.failures.length} failures, `
      + `${l.late.length} late, ${l.overruns.length} overruns, slowest settlement ${l.maxSettleMs} ms; outcomes ${JSON.stringify(l.outcomes)}`
      + `${Object.keys(l.knownHits).length ? `; known issues met: ${JSON.stringify(l.knownHits)}` : ''}`);
    if (l.memory && l.memory.end) {
      log(`[fuzz] state memory after a full collection: ${l.memory.baseline.join(', ')} bytes at the start, ${l.memory.end.join(', ')} at the end; `
        + `process RSS ${(l.rss.start / 1048576).toFixed(0)} -> ${(l.rss.end / 1048576).toFixed(0)} MiB`);
    }
  }
  out.failures = [...(out.marshal ? out.marshal.failures : []), ...(out.lua ? out.lua.failures : [])];
  return out;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--seconds': o.seconds = Number(next()); break;
      case '--minutes': o.seconds = Number(next()) * 60; break;
      case '--only': o.only = next(); break;
      case '--seed': {
        const v = next().split(',').map(Number);
        o.seed = v.length > 1 ? v : v[0];
        break;
      }
      case '--base': o.base = Number(next()); break;
      case '--known': o.known = true; break;
      case '--strict-time': o.strictTime = true; break;
      case '--trace': o.trace = next(); break;
      case '--json': o.json = next(); break;
      case '--memory-every': o.memoryEvery = Number(next()); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.only !== undefined && !['marshal', 'lua'].includes(o.only)) throw new Error('--only must be marshal or lua');
  if (o.seconds !== undefined && !(o.seconds > 0)) throw new Error('--seconds/--minutes must be positive');
  const seeds = o.seed === undefined ? [] : [].concat(o.seed);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff)) throw new Error('--seed takes 32-bit unsigned integers');
  return o;
}

function knownList() {
  return [
    ...Object.entries(KNOWN).map(([k, v]) => `  marshal ${k}: ${v}`),
    ...Object.entries(KNOWN_PATTERNS).map(([k, v]) => `  lua ${k}: ${v}`),
  ].join('\n');
}

if (require.main === module) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: ${e.message}\n`);
    process.exit(2);
  }
  const lib = require(path.join(__dirname, '..'));
  runFuzzers(lib, options).then((out) => {
    if (options.json) fs.writeFileSync(options.json, JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v), 2));
    if (options.known) process.stdout.write(`[fuzz] --known: the known issues are failures, not tolerated:\n${knownList()}\n`);
    process.stdout.write(`[fuzz] ${out.failures.length ? `FAILED: ${out.failures.length} failures (seeds ${out.failures.map((f) => f.seed).join(', ')})` : 'no failures'}\n`);
    // a hung job may still hold a thread: exit rather than wait for it
    process.exit(out.failures.length ? 1 : 0);
  }, (e) => {
    process.stderr.write(`fuzz: ${e && e.stack}\n`);
    process.exit(1);
  });
}

module.exports = { runFuzzers, parseArgs, knownList };
