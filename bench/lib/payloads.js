'use strict';
// Realistic payloads for the calls section, next to add(int, int): each is one call's
// argument, and what the Lua side returns for it (bench/workloads/payloads.lua).
//   entity:   the issue-10 entity (12 fields) in, its 6 written fields back (update)
//   string1k: a 1 KB string in, the same string back (echo)
//   array50:  a 50-element array of numbers in, the same array back (echo)
// A host-call round trip is measured beside them: engine.<fn>(i) from Lua, answered by JS.
const fs = require('fs');
const path = require('path');
const { WORKLOAD_DIR } = require('./common');
const E = require('./entities');

const PAYLOADS = ['entity', 'string1k', 'array50'];
const SOURCE_PATH = path.join(WORKLOAD_DIR, 'payloads.lua');
const source = () => fs.readFileSync(SOURCE_PATH, 'utf8').replace('--[[entity]]', `(function() ${E.behaviour()} end)()`);

// Every call of a batch gets its own value (a codec that shares repeated references must
// not make the row look cheaper than a real batch of distinct entities).
const string1k = (i) => `${i}:`.padEnd(1024, 'luapool ');
const array50 = (i) => Array.from({ length: 50 }, (_, k) => i + k * 1.5);

// [function name, argument of call i (a new value per i), check(result of call i, i)]
function payload(kind, count) {
  switch (kind) {
    case 'entity': {
      const es = E.makeEntities(count);
      return ['update', (i) => es[i], (v) => {
        if (!v || typeof v.x !== 'number' || typeof v.state !== 'number') throw new Error(`CHECKSUM MISMATCH: entity update returned ${JSON.stringify(v)}`);
      }];
    }
    case 'string1k':
      return ['echo', string1k, (v, i) => { if (v !== string1k(i)) throw new Error('CHECKSUM MISMATCH: string1k echo'); }];
    case 'array50':
      return ['echo', array50, (v, i) => {
        if (!Array.isArray(v) || v.length !== 50 || v[49] !== i + 49 * 1.5) throw new Error('CHECKSUM MISMATCH: array50 echo');
      }];
    default: throw new Error(`unknown payload ${kind}`);
  }
}

module.exports = { PAYLOADS, source, payload };
