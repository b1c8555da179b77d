#!/usr/bin/env node
// Probes the ActiveSync tables of the installed libwbxml (Debian libwbxml2-utils) empirically and prints how
// they differ from ours. Run from packages/wbxml:  node test/interop/probe-libwbxml.mjs
//
// 1. Decode: for every page 0-25 it feeds wbxml2xml one document whose root holds every tag token 0x05-0x3F
//    as an empty child, and reads back the name libwbxml prints for each token ("unknown" when it has none).
// 2. Encode: for every tag of ours (canonical name and aliases) it asks xml2wbxml to encode
//    <Name xmlns="Namespace:"/> and reads back the (page, token) it chose, or notes that it refused.
// The result is the knowledge recorded in src/interop-corpus.ts (LIBWBXML_*); src/interop.test.ts checks
// part 1 again on every run, so the recorded table cannot drift from the installed library.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;
const reference = JSON.parse(readFileSync(join(here, '../fixtures/codepages.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'easkit-libwbxml-probe-'));
const DOCTYPE =
  '<?xml version="1.0"?>\n<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">\n';

function run(tool, args) {
  try {
    execFileSync(tool, args, { timeout: 10_000, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function decodeProbe(page) {
  const bytes = [0x03, 0x01, 0x6a, 0x00, 0x00, page, 0x45];
  for (let token = 0x05; token <= 0x3f; token++) bytes.push(token);
  bytes.push(0x01);
  const input = join(dir, 'probe.wbxml');
  const output = join(dir, 'probe.xml');
  writeFileSync(input, Uint8Array.from(bytes));
  if (!run('wbxml2xml', ['-l', 'ACTIVESYNC', '-m', '1', '-i', '1', '-o', output, input])) {
    throw new Error(`wbxml2xml failed on page ${page}`);
  }
  const xml = readFileSync(output, 'utf8');
  const namespace = /xmlns="([^"]*)"/.exec(xml)?.[1];
  const names = [...xml.matchAll(/^ (?:<)([A-Za-z0-9_-]+)/gm)].map((match) => match[1]);
  const byToken = new Map();
  names.forEach((name, index) => {
    if (name !== 'unknown') byToken.set(0x05 + index, name);
  });
  return { namespace, byToken };
}

function encodeProbe(namespace, name, text = '') {
  const input = join(dir, 'probe-in.xml');
  const output = join(dir, 'probe-out.wbxml');
  const body =
    text === '' ? `<${name} xmlns="${namespace}"/>` : `<${name} xmlns="${namespace}">${text}</${name}>`;
  writeFileSync(input, `${DOCTYPE}${body}\n`);
  rmSync(output, { force: true });
  if (!run('xml2wbxml', ['-a', '-n', '-v', '1.3', '-o', output, input])) return undefined;
  const bytes = readFileSync(output);
  const at = bytes[4] === 0x00 ? 6 : 4;
  return { page: at === 6 ? bytes[5] : 0, token: bytes[at] & 0x3f, opaque: bytes[at + 1] === 0xc3 };
}

// 3. Opaque: does xml2wbxml write the text "QUJD" (base64 of "ABC") as OPAQUE, and does wbxml2xml print
//    OPAQUE content of the tag as base64?
function opaqueProbe(page, token, namespace, name) {
  const encoded = encodeProbe(namespace, name, 'QUJD');
  const input = join(dir, 'probe-opaque.wbxml');
  const output = join(dir, 'probe-opaque.xml');
  writeFileSync(
    input,
    Uint8Array.of(0x03, 0x01, 0x6a, 0x00, 0x00, page, token | 0x40, 0xc3, 0x03, 0x41, 0x42, 0x43, 0x01),
  );
  const decodesAsBase64 =
    run('wbxml2xml', ['-l', 'ACTIVESYNC', '-m', '0', '-o', output, input]) &&
    readFileSync(output, 'utf8').includes('>QUJD<');
  return { encodesOpaque: encoded?.opaque === true, decodesAsBase64 };
}

const report = [];
try {
  for (const page of reference.pages) {
    const probe = decodeProbe(page.page);
    const ours = new Map(page.tags.map((tag) => [tag.token, tag]));
    const entry = {
      page: page.page,
      ours: page.namespace,
      libwbxmlNamespace: probe.namespace,
      libwbxmlTagCount: probe.byToken.size,
      missing: [],
      renamed: {},
      extra: {},
      opaque: [],
      encodeAccepts: {},
    };
    for (const tag of page.tags) {
      const theirs = probe.byToken.get(tag.token);
      if (theirs === undefined) entry.missing.push(tag.name);
      else if (theirs !== tag.name) entry.renamed[tag.name] = theirs;
      if (theirs !== undefined) {
        const opaque = opaqueProbe(page.page, tag.token, probe.namespace, theirs);
        if (opaque.encodesOpaque || opaque.decodesAsBase64) entry.opaque.push({ tag: tag.name, ...opaque });
      }
      const accepted = [];
      for (const name of [tag.name, ...Object.values(tag.aliases ?? {})]) {
        const got = encodeProbe(probe.namespace ?? `${page.namespace}:`, name);
        if (got && got.page === page.page && got.token === tag.token) accepted.push(name);
        else if (got) accepted.push(`${name} -> page ${got.page} token 0x${got.token.toString(16)} (!)`);
      }
      entry.encodeAccepts[tag.name] = [...new Set(accepted)];
    }
    for (const [token, name] of probe.byToken) {
      if (!ours.has(token)) entry.extra[`0x${token.toString(16)}`] = name;
    }
    report.push(entry);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
