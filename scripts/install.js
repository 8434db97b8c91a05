#!/usr/bin/env node
// npm install hook. A published package ships dist/ and prebuilds/: if node-gyp-build
// finds a binary for this platform, there is nothing to do. Otherwise (no prebuild, or a
// git clone) build from source: Lua is fetched and verified first, then node-gyp.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
let hasBinary = false;
try {
  require('node-gyp-build').resolve(root);
  hasBinary = true;
} catch {
  hasBinary = false;
}
const hasDist = fs.existsSync(path.join(root, 'dist', 'cjs', 'index.js'));
if (hasBinary && hasDist) process.exit(0);
require('./build.js');
