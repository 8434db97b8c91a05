#!/usr/bin/env node
// npm run prebuild: builds the N-API binary into prebuilds/<platform>-<arch>/ with
// prebuildify, offline against the running Node's own headers.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
execFileSync(process.execPath, [path.join(root, 'deps', 'lua', 'fetch.js')], { stdio: 'inherit' });
const env = { ...process.env };
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix; // node-gyp reads its options from npm_config_* variables
}
const bin = require.resolve('prebuildify/bin.js', { paths: [root] });
execFileSync(process.execPath, [bin, '--napi', '--strip', '--target', process.versions.node], { stdio: 'inherit', cwd: root, env });
