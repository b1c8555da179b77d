import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadReport } from './run.js';

const mb = (bytes: number | undefined) =>
  bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const pct = (share: number | undefined) => (share === undefined ? '-' : `${Math.round(share * 100)} %`);

/** The report as text for a terminal or a file: settings, devices, throughput, a table per command, errors. */
export function summaryText(report: LoadReport): string {
  const lines: string[] = [];
  const s = report.settings;
  lines.push(`easkit-loadgen against ${report.url}, started ${report.startedAt}`);
  lines.push(
    `  ${s.devices} devices over ${s.users} user(s), ${report.durationSec} s (ramp-up ${s.rampUpSec} s); profiles ${Object.entries(
      s.profiles,
    )
      .map(([name, weight]) => `${name}=${weight}`)
      .join(',')}; ${Math.round(s.pingShare * 100)} % Ping, the rest poll every ${s.pollIntervalSec} s`,
  );
  lines.push(
    `  mail ${s.mailPerMinute}/min via ${s.mailVia}; ${s.changesPerDeviceMinute} client changes per device per minute${
      s.heartbeatSec !== undefined ? `; heartbeat ${s.heartbeatSec} s` : ''
    }`,
  );
  lines.push('');
  const d = report.devices;
  lines.push(
    `devices   ${d.started}/${d.requested} started (${d.pinging} Ping, ${d.started - d.pinging} poll), ${d.failedToStart} failed at first contact; ${Object.entries(
      d.byProfile,
    )
      .map(([name, count]) => `${name} ${count}`)
      .join(', ')}; versions ${Object.entries(d.byVersion)
      .map(([version, count]) => `${version}: ${count}`)
      .join(', ')}`,
  );
  lines.push(
    `requests  ${report.requests.total} (${report.requests.perSecond}/s), ${report.requests.errors} failed; ${mb(
      report.bytes.out,
    )} sent, ${mb(report.bytes.in)} received`,
  );
  lines.push(
    `push      ${report.push.pings} Pings: ${report.push.wokenByChanges} woken by changes, ${report.push.heartbeatsExpired} expired, ${report.push.interrupted} ended by the device`,
  );
  lines.push(
    `mail      ${report.mail.sent} delivered, ${report.mail.failed} failed; ${report.clientChanges} client changes`,
  );
  for (const server of report.servers ?? [report.server]) {
    if (server.samples.length === 0) {
      lines.push('server    no /metrics: resources not read');
      continue;
    }
    lines.push(
      `server    peak RSS ${mb(server.peakRssBytes)}, CPU mean ${pct(server.meanCpu)} / peak ${pct(
        server.peakCpu,
      )} of one core, up to ${server.peakWaitingRequests ?? '-'} waiting requests (${server.samples.length} samples of ${server.url})`,
    );
  }
  const g = report.loadGenerator;
  lines.push(
    `this host load average ${g.loadavg.join(' ')} on ${g.cpus} CPUs; the generator used ${mb(g.rssBytes)}${
      g.peakConnections !== undefined ? ` and up to ${g.peakConnections} connections` : ''
    } (Node ${g.node})`,
  );
  lines.push('');
  lines.push('latency (ms)          count   errors     p50     p90     p95     p99     max');
  for (const [name, c] of Object.entries(report.commands)) {
    lines.push(
      `${name.padEnd(20)} ${String(c.count).padStart(6)} ${String(c.errors).padStart(8)} ${[
        c.p50,
        c.p90,
        c.p95,
        c.p99,
        c.max,
      ]
        .map((value) => value.toFixed(1).padStart(7))
        .join(' ')}`,
    );
  }
  lines.push('(a Ping waits for changes: its time is the wait, not a latency)');
  const errors = Object.entries(report.errors);
  lines.push('');
  if (errors.length === 0) lines.push('errors    none');
  else {
    lines.push('errors');
    for (const [key, count] of errors) lines.push(`  ${String(count).padStart(6)}  ${key}`);
  }
  return `${lines.join('\n')}\n`;
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Latency over time as a standalone SVG: p50 and p95 of the answers finishing in each second (Pings left out),
 * requests per second as bars on a second axis, and the number of started devices as a step line.
 */
export function latencyChartSvg(report: LoadReport): string {
  const width = 900;
  const height = 420;
  const margin = { left: 60, right: 60, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const timeline = report.timeline;
  const seconds = Math.max(1, timeline.length);
  const maxLatency = niceCeiling(Math.max(1, ...timeline.map((sample) => sample.p95)));
  const maxRate = niceCeiling(Math.max(1, ...timeline.map((sample) => sample.requests)));
  const maxDevices = Math.max(1, report.devices.requested);
  const x = (t: number) => margin.left + (t / seconds) * plotW;
  const yLatency = (ms: number) => margin.top + plotH - (ms / maxLatency) * plotH;
  const yRate = (rate: number) => margin.top + plotH - (rate / maxRate) * plotH;
  const yDevices = (count: number) => margin.top + plotH - (count / maxDevices) * plotH;
  const barWidth = Math.max(1, plotW / seconds - 1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(
    `<text x="${margin.left}" y="22" font-size="14" font-weight="bold">${escapeXml(
      `easkit-loadgen: ${report.devices.requested} devices, ${report.durationSec} s, ${report.url}`,
    )}</text>`,
  );
  // Grid and the latency axis (left).
  for (let step = 0; step <= 4; step++) {
    const value = (maxLatency * step) / 4;
    const y = yLatency(value);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${formatNumber(value)}</text>`);
    parts.push(
      `<text x="${margin.left + plotW + 6}" y="${y + 4}" fill="#999">${formatNumber((maxRate * step) / 4)}</text>`,
    );
  }
  const tickEvery = Math.max(1, Math.ceil(seconds / 10));
  for (let t = 0; t <= seconds; t += tickEvery) {
    parts.push(
      `<text x="${x(t)}" y="${margin.top + plotH + 16}" text-anchor="middle">${t}</text>`,
      `<line x1="${x(t)}" x2="${x(t)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#333"/>`,
    );
  }
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">seconds since start</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency, ms</text>`,
    `<text transform="translate(${width - 12} ${margin.top + plotH / 2}) rotate(90)" text-anchor="middle" fill="#999">requests per second</text>`,
  );
  // Requests per second as light bars, errors in red on top.
  for (const sample of timeline) {
    const top = yRate(sample.requests);
    parts.push(
      `<rect x="${x(sample.t)}" y="${top}" width="${barWidth}" height="${margin.top + plotH - top}" fill="#dde6f0"/>`,
    );
    if (sample.errors > 0) {
      const errorTop = yRate(sample.errors);
      parts.push(
        `<rect x="${x(sample.t)}" y="${errorTop}" width="${barWidth}" height="${margin.top + plotH - errorTop}" fill="#e07070"/>`,
      );
    }
  }
  const line = (pick: (sample: (typeof timeline)[number]) => number, y: (value: number) => number) =>
    timeline
      .map((sample) => `${(x(sample.t) + barWidth / 2).toFixed(1)},${y(pick(sample)).toFixed(1)}`)
      .join(' ');
  parts.push(
    `<polyline points="${line((sample) => sample.devices, yDevices)}" fill="none" stroke="#999" stroke-dasharray="4 3"/>`,
    `<polyline points="${line((sample) => sample.p95, yLatency)}" fill="none" stroke="#d0661b" stroke-width="2"/>`,
    `<polyline points="${line((sample) => sample.p50, yLatency)}" fill="none" stroke="#1f5fa8" stroke-width="2"/>`,
  );
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
  );
  const legend: [string, string, string][] = [
    ['#1f5fa8', '', 'p50 latency'],
    ['#d0661b', '', 'p95 latency'],
    ['#999', '4 3', `devices started (of ${maxDevices})`],
    ['#dde6f0', '', 'requests/s'],
    ['#e07070', '', 'errors/s'],
  ];
  legend.forEach(([color, dash, label], position) => {
    const lx = margin.left + 10 + position * 150;
    parts.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="${margin.top + 12}" y2="${margin.top + 12}" stroke="${color}" stroke-width="${
        dash ? 1 : 6
      }"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${lx + 26}" y="${margin.top + 16}">${escapeXml(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (value <= factor * magnitude) return factor * magnitude;
  }
  return 10 * magnitude;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** Writes `report.json`, `summary.txt` and `latency.svg` into `directory` (created when missing). */
export async function writeReport(directory: string, report: LoadReport): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(directory, 'summary.txt'), summaryText(report));
  await writeFile(join(directory, 'latency.svg'), latencyChartSvg(report));
}
