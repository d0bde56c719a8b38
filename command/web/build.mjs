#!/usr/bin/env node
// Builds the third-party browser assets of the command centre's pages.
//
// It copies what the page needs from node_modules (installed from the
// committed package-lock.json with `npm ci`) into command/web/static/lib/,
// which go:embed then puts into the shian-command binary. Nothing it writes
// is committed (static/lib/ is gitignored).
//
// Usage (from anywhere; paths are resolved from this file):
//
//	npm ci --no-audit --no-fund && node command/web/build.mjs
//
// It exits non-zero with a message saying what to do when node_modules is
// missing or a file it needs is not there.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const modules = path.join(root, "node_modules");
const lib = path.join(here, "static", "lib");

// What to copy: [package, files or directories under the package, target dir under lib/].
const copies = [
  ["leaflet", ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"], "leaflet"],
];

function fail(msg) {
  console.error(`build-web: ${msg}`);
  process.exit(1);
}

if (!fs.existsSync(modules)) {
  fail(`${modules} is missing; run \`npm ci\` in ${root} first (or \`make web\`)`);
}

// Start from an empty lib/ so that a removed file does not linger.
fs.rmSync(lib, { recursive: true, force: true });
fs.mkdirSync(lib, { recursive: true });

const manifest = {};
for (const [pkg, files, target] of copies) {
  const pkgDir = path.join(modules, pkg);
  const pkgJSON = path.join(pkgDir, "package.json");
  if (!fs.existsSync(pkgJSON)) {
    fail(`npm package ${pkg} is not installed; run \`npm ci\` in ${root}`);
  }
  const { version } = JSON.parse(fs.readFileSync(pkgJSON, "utf8"));
  manifest[pkg] = version;
  for (const f of files) {
    const src = path.join(pkgDir, f);
    if (!fs.existsSync(src)) {
      fail(`${src} is missing; reinstall with \`npm ci\``);
    }
    const dst = path.join(lib, target, path.basename(f));
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.cpSync(src, dst, { recursive: true });
  }
}

// The page reads this to tell "assets built" from "run make web".
fs.writeFileSync(path.join(lib, "manifest.json"), JSON.stringify({ packages: manifest }, null, 2) + "\n");
console.log(`build-web: ${Object.entries(manifest).map(([p, v]) => `${p}@${v}`).join(", ")} → ${path.relative(root, lib)}/`);
