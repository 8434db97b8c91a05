'use strict';
// Driver "js": the issue-10 entity behaviour in plain JavaScript (a floor of the gameloop
// section): stepJs(e, dt) over an array of objects, on the main thread.
const { driverMain } = require('../lib/common');
const E = require('../lib/entities');

driverMain('js', {
  async entities(p) {
    const es = E.makeEntities(p.entities);
    const t = await E.timeFrames(() => { for (let i = 0; i < es.length; i++) E.stepJs(es[i], E.DT); }, p);
    const checksum = E.verify('js', p.entities, t.framesRun, E.checksumOf(es.length, (i, f) => es[i][f]));
    return E.frameResult(p.entities, t, { checksum, mainMs: t.frameMs, how: 'a JS function over an array of objects (main thread)' });
  },
});
