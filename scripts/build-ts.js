#!/usr/bin/env node
// Compiles lib/ (TypeScript) to dist/cjs and writes the ESM entry, which re-exports the
// CommonJS build so ESM and CJS users share one instance of every class.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status || 1); // tsc has printed the errors

const cjs = require(path.join(root, 'dist', 'cjs', 'index.js'));
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
fs.mkdirSync(path.join(root, 'dist', 'esm'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist', 'esm', 'index.mjs'),
  `// ESM entry: re-exports the CommonJS build (one copy of every class).\n` +
  `import cjs from '../cjs/index.js';\n\n` +
  `export const { ${names.join(', ')} } = cjs;\n` +
  `export default cjs;\n`);
