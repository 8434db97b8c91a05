#!/usr/bin/env node
// Obtains the pinned Lua sources, verifies them, and applies our patch series.
//
// Route (first that works wins; the SHA-256 is checked every time a tarball is used):
//   1. deps/lua/src already unpacked and verified (its manifest of file hashes matches)
//   2. a tarball named by LUA_TARBALL, or one cached in deps/lua/cache/
//   3. the upstream release tarball from the Lua project's site
//   4. Debian's source package (its .orig.tar.gz is byte-identical to upstream),
//      fetched with apt-get through a temporary sources list derived from this
//      machine's own Debian entries; the system's apt configuration is never touched.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { applyPatchSeries } = require('./patch.js');

const here = __dirname;
const pin = JSON.parse(fs.readFileSync(path.join(here, 'lua.json'), 'utf8'));
const srcDir = path.join(here, 'src');
const cacheDir = path.join(here, 'cache');
const patchesDir = path.join(here, 'patches');
const manifestPath = path.join(srcDir, '.luapool-manifest.json');

function log(msg) { process.stderr.write(`[luapool:lua] ${msg}\n`); }
function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

function patchList() {
  if (!fs.existsSync(patchesDir)) return [];
  return fs.readdirSync(patchesDir).filter((f) => f.endsWith('.patch')).sort()
    .map((f) => ({ name: f, sha256: sha256(fs.readFileSync(path.join(patchesDir, f))) }));
}

// Step 1: an unpacked tree is trusted only if every file still matches its manifest and
// the manifest was made from the pinned tarball with the current patch series.
function unpackedIsValid() {
  if (!fs.existsSync(manifestPath)) return false;
  let manifest;
  try { manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')); } catch { return false; }
  if (manifest.tarballSha256 !== pin.sha256) return false;
  if (JSON.stringify(manifest.patches) !== JSON.stringify(patchList())) return false;
  for (const [rel, hash] of Object.entries(manifest.files)) {
    const p = path.join(srcDir, rel);
    if (!fs.existsSync(p) || sha256(fs.readFileSync(p)) !== hash) return false;
  }
  return true;
}

function verifyTarball(file, origin) {
  const actual = sha256(fs.readFileSync(file));
  if (actual !== pin.sha256) {
    throw new Error(`Lua tarball from ${origin} (${file}) has SHA-256 ${actual}, ` +
      `expected ${pin.sha256}. Refusing to use it.`);
  }
  log(`verified ${path.basename(file)} from ${origin} (sha256 ${actual.slice(0, 16)}…)`);
  return file;
}

function fromEnvOrCache() {
  const found = [];
  if (process.env.LUA_TARBALL) {
    const file = path.resolve(process.env.LUA_TARBALL);
    if (!fs.existsSync(file)) throw new Error(`LUA_TARBALL=${file} does not exist`);
    return verifyTarball(file, 'LUA_TARBALL'); // an explicit choice must not silently fall through
  }
  const cached = path.join(cacheDir, pin.tarball);
  if (fs.existsSync(cached)) found.push(cached);
  for (const f of found) {
    try { return verifyTarball(f, 'cache'); } catch (e) { log(e.message); fs.rmSync(f); }
  }
  return null;
}

function fromUpstream() {
  const url = `https://${pin.upstreamHost}${pin.upstreamPath}`;
  const out = path.join(cacheDir, pin.tarball);
  const script = `
    const https = require('https'); const fs = require('fs');
    const req = https.get(${JSON.stringify(url)}, { timeout: 15000 }, (res) => {
      if (res.statusCode !== 200) { console.error('HTTP ' + res.statusCode); process.exit(2); }
      const f = fs.createWriteStream(${JSON.stringify(out + '.part')});
      res.pipe(f); f.on('finish', () => f.close(() => process.exit(0)));
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', (e) => { console.error(e.message); process.exit(2); });`;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
    fs.renameSync(out + '.part', out);
    return verifyTarball(out, 'the Lua project site');
  } catch (e) {
    fs.rmSync(out + '.part', { force: true });
    log(`upstream download unavailable (${String(e.stderr || e.message).trim().split('\n')[0]})`);
    return null;
  }
}

// The deb-src entry is derived from the machine's own Debian sources (deb822 or one-line).
function debianMirror() {
  const candidates = [];
  const dir = '/etc/apt/sources.list.d';
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith('.sources') || f.endsWith('.list')) candidates.push(path.join(dir, f));
    }
  }
  candidates.push('/etc/apt/sources.list');
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const deb822 = text.split(/\n\s*\n/);
    for (const stanza of deb822) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza);
      const suites = /^Suites:\s*(.+)$/m.exec(stanza);
      if (uri && suites && /\/debian\/?$/.test(uri[1]) && !/security/.test(suites[1])) {
        const signed = /^Signed-By:\s*(\S+)/m.exec(stanza);
        return { uri: uri[1], signedBy: signed ? signed[1] : null };
      }
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+\/debian\/?)\s+\S+/.exec(line.trim());
      if (m) {
        const signed = m[1] && /signed-by=(\S+)/.exec(m[1]);
        return { uri: m[2], signedBy: signed ? signed[1] : null };
      }
    }
  }
  return null;
}

function fromDebian() {
  const mirror = debianMirror();
  if (!mirror) { log('no Debian apt source found on this machine'); return null; }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-apt-'));
  try {
    const parts = path.join(tmp, 'sources.list.d');
    const lists = path.join(tmp, 'lists');
    fs.mkdirSync(parts); fs.mkdirSync(path.join(lists, 'partial'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'sources.list'), '');
    fs.writeFileSync(path.join(parts, 'luapool-src.sources'), [
      'Types: deb-src', `URIs: ${mirror.uri}`, `Suites: ${pin.debianSuite}`, 'Components: main',
      ...(mirror.signedBy ? [`Signed-By: ${mirror.signedBy}`] : []), ''].join('\n'));
    const opts = [
      '-o', `Dir::Etc::SourceList=${path.join(tmp, 'sources.list')}`,
      '-o', `Dir::Etc::SourceParts=${parts}`,
      '-o', `Dir::State::Lists=${lists}`,
      '-o', 'APT::Sandbox::User=root',
    ];
    log(`fetching Debian source package ${pin.debianSource} (${pin.debianSuite})`);
    execFileSync('apt-get', [...opts, 'update'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300000 });
    execFileSync('apt-get', [...opts, 'source', '--download-only', pin.debianSource],
      { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300000 });
    const orig = path.join(tmp, pin.debianOrig);
    verifyTarball(orig, "Debian's source package");
    fs.mkdirSync(cacheDir, { recursive: true });
    const out = path.join(cacheDir, pin.tarball);
    fs.copyFileSync(orig, out);
    return out;
  } catch (e) {
    log(`Debian source package unavailable (${String(e.stderr || e.message).trim().split('\n').pop()})`);
    return null;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function unpack(tarball) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-lua-'));
  try {
    execFileSync('tar', ['xzf', tarball, '-C', tmp]);
    const top = path.join(tmp, `lua-${pin.version}`);
    fs.rmSync(srcDir, { recursive: true, force: true });
    fs.cpSync(path.join(top, 'src'), srcDir, { recursive: true });
    // The test suite is not in the release tarball; keep the manual's license text.
    fs.copyFileSync(path.join(top, 'README'), path.join(srcDir, 'README.lua'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const patches = patchList();
  applyPatchSeries(srcDir, patchesDir, patches.map((p) => p.name), log);
  const files = {};
  for (const f of fs.readdirSync(srcDir).sort()) {
    if (f.startsWith('.')) continue;
    files[f] = sha256(fs.readFileSync(path.join(srcDir, f)));
  }
  fs.writeFileSync(manifestPath, JSON.stringify({ tarballSha256: pin.sha256, patches, files }, null, 1));
}

function main() {
  if (unpackedIsValid()) { log(`Lua ${pin.version} sources in deps/lua/src are verified`); return; }
  const tarball = fromEnvOrCache() || fromUpstream() || fromDebian();
  if (!tarball) {
    throw new Error(`could not obtain Lua ${pin.version}: set LUA_TARBALL to a copy of ` +
      `${pin.tarball} (sha256 ${pin.sha256})`);
  }
  unpack(tarball);
  log(`Lua ${pin.version} unpacked into deps/lua/src with ${patchList().length} patch(es)`);
}

if (require.main === module) {
  try { main(); } catch (e) { log(`error: ${e.message}`); process.exit(1); }
}
module.exports = { main, srcDir, pin };
