import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('easkit.example.yaml', () => {
  it('is a valid configuration', () => {
    const config = loadConfig({ file: join(import.meta.dirname, '..', 'easkit.example.yaml'), env: {} });
    expect(config.storage.kind).toBe('postgres');
    expect(config.server.publicUrl).toBe('https://mail.example.com');
  });
});
