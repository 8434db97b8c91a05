'use strict';
// One warm wasmoon engine per piscina worker thread (created when the worker starts).
const { loadWorkload, wrapVararg } = require('../lib/common');
const { doString } = require('../lib/wasmoon-util');

const chunks = new Map();
module.exports = (async () => {
  const { LuaFactory } = require('wasmoon');
  const engine = await new LuaFactory().createEngine();
  await doString(engine, 'return 1 + 1');
  return async function task(t) {
    if (t.kind === 'trivial') return doString(engine, 'return 1 + 1');
    if (t.kind === 'cpu') {
      const key = `${t.workload}:${t.n}`;
      if (!chunks.has(key)) chunks.set(key, wrapVararg(loadWorkload(t.workload), [t.n]));
      const r = await doString(engine, chunks.get(key));
      return typeof r === 'number' ? r : String(r);
    }
    if (t.kind === 'ping') return 1;
    throw new Error(`unknown task ${t.kind}`);
  };
})();
