import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EasApp } from '@easkit/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer } from '../../test/server.js';
import { expandUserPattern, parseDuration, runLoadgenCommandLine } from './command-line.js';
import type { LoadReport } from './run.js';

let app: EasApp;
let out: string;

beforeAll(async () => {
  app = await startReferenceServer();
  out = await mkdtemp(join(tmpdir(), 'easkit-loadgen-'));
});
afterAll(async () => {
  await app?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

describe('easkit-loadgen against the reference server in process', () => {
  it('runs 20 devices of the three profiles and writes the JSON report, the summary and the chart', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runLoadgenCommandLine(
      [
        // The same instance twice: devices alternate between the URLs, each one's metrics are read.
        '--url',
        app.running.url,
        `${app.running.url}/Microsoft-Server-ActiveSync`,
        '--user',
        'demo@easkit.test',
        '--devices',
        '20',
        '--duration',
        '4s',
        '--ramp-up',
        '1s',
        '--mail-rate',
        '120',
        '--changes',
        '12',
        '--ping-share',
        '0.75',
        '--poll-interval',
        '1s',
        '--out',
        out,
      ],
      {
        stdout: (text) => stdout.push(text),
        stderr: (text) => stderr.push(text),
        env: { EASKIT_PASSWORD: 'pw' },
      },
    );
    expect(stderr.join('')).toContain('devices ');
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as LoadReport;
    expect(report.tool).toBe('easkit-loadgen');
    expect(report.devices.requested).toBe(20);
    expect(report.devices.started).toBe(20);
    expect(report.devices.failedToStart).toBe(0);
    expect(report.devices.pinging).toBe(15); // --ping-share 0.75: 5 of the 20 poll
    expect(report.devices.byProfile).toEqual({ ios: 7, android: 7, outlook: 6 });
    expect(Object.values(report.devices.byVersion).reduce((a, b) => a + b, 0)).toBe(20);
    // Every device negotiated, provisioned (both phases) and listed its folders. How far each got after that
    // depends on how busy the machine is: no rate or timing is asserted.
    for (const [command, least] of [
      ['OPTIONS', 20],
      ['Provision', 40],
      ['FolderSync', 20],
    ] as const) {
      expect(report.commands[command]?.count, command).toBeGreaterThanOrEqual(least);
    }
    expect(report.requests.total).toBe(report.requests.ok);
    expect(report.requests.errors).toBe(0);
    expect(report.errors).toEqual({});
    expect(report.mail.failed).toBe(0);
    for (const summary of Object.values(report.commands)) {
      expect(summary.ok + summary.errors).toBe(summary.count);
      expect(summary.p50).toBeLessThanOrEqual(summary.p95);
      expect(summary.p95).toBeLessThanOrEqual(summary.max);
    }
    expect(report.timeline.length).toBeGreaterThanOrEqual(4);
    expect(report.timeline.reduce((sum, second) => sum + second.requests, 0)).toBe(report.requests.total);
    // The reference server exposes /metrics: its memory and waiting requests were read.
    expect(report.server.samples.length).toBeGreaterThan(0);
    expect(report.server.peakRssBytes).toBeGreaterThan(0);
    expect(report.server.peakWaitingRequests).toBeGreaterThanOrEqual(0);
    // One keep-alive agent: a connection per request in flight at most, far fewer than requests.
    expect(report.loadGenerator.peakConnections).toBeGreaterThan(0);
    expect(report.loadGenerator.peakConnections).toBeLessThan(report.requests.total);
    expect(report.urls).toHaveLength(2);
    expect(report.servers?.map((server) => server.samples.length > 0)).toEqual([true, true]);

    const summary = await readFile(join(out, 'summary.txt'), 'utf8');
    expect(summary).toContain('latency (ms)');
    expect(summary).toContain('FolderSync');
    expect(stdout.join('')).toBe(summary);
    const svg = await readFile(join(out, 'latency.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('<polyline');
  });

  it('refuses bad usage with exit code 2', async () => {
    const stderr: string[] = [];
    const io = { stdout: () => {}, stderr: (text: string) => stderr.push(text) };
    expect(
      await runLoadgenCommandLine(
        ['--url', app.running.url, '--user', 'x@y', '--password', 'pw', '--duration', 'soon'],
        io,
      ),
    ).toBe(2);
    expect(await runLoadgenCommandLine(['--url', app.running.url, '--password', 'pw'], io)).toBe(2);
    expect(await runLoadgenCommandLine(['--url', app.running.url, '--user', 'x@y'], io)).toBe(2);
    expect(
      await runLoadgenCommandLine(
        ['--url', app.running.url, '--user', 'x@y', '--password', 'pw', '--profiles', 'nokia=1'],
        io,
      ),
    ).toBe(2);
    expect(stderr.join('')).toContain('unknown profile nokia');
  });

  it('reads durations and user patterns', () => {
    expect(parseDuration('20s')).toBe(20_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('3')).toBe(3000);
    expect(expandUserPattern('load{n}@easkit.test', 3)).toEqual([
      'load1@easkit.test',
      'load2@easkit.test',
      'load3@easkit.test',
    ]);
  });
});
